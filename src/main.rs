//! The `postsearch` binary: parse arguments, run the command, exit with its
//! status. Everything else is in the library (`postsearch::cli`).

/// mimalloc: indexing and answers allocate many short-lived strings from
/// several threads; glibc's per-thread arenas fragment under that load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(postsearch::cli::main());
}
