//! The `postsearch` binary: parse arguments, run the command, exit with its
//! status. Everything else is in the library (`postsearch::cli`).

/// mimalloc: indexing and answers allocate many short-lived strings from
/// several threads; glibc's per-thread arenas fragment under that load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (`mimalloc.h`);
/// the crate's bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds before freed memory goes back to the system (mimalloc's
/// default is 1,000): a server's query buffers then leave its resident set
/// soon after the burst that needed them. Measured on 1M posts, 32
/// connections: peak resident set 270–283 → 260–263 MiB, throughput
/// unchanged (indexing too).
const PURGE_DELAY_MS: std::ffi::c_long = 100;

fn main() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called first thing, before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    std::process::exit(postsearch::cli::main());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_its_environment_variable_sets() {
        // The environment sets the option named MIMALLOC_PURGE_DELAY; if the
        // option number were another option's, this would read its value.
        // SAFETY: reading an option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        let expected = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        assert_eq!(delay, expected);
    }
}
