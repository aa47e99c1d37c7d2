//! The `postsearch` binary: parse arguments, run the command, exit with its
//! status. Everything else is in the library (`postsearch::cli`).

fn main() {
    std::process::exit(postsearch::cli::main());
}
