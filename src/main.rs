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

/// For `index`: never give freed memory back while the command runs. Its
/// writer threads free their indexing buffers at every segment and take
/// them again for the next one, and each page given back is zeroed by the
/// kernel when taken again (15% of the CPU time on 20k real posts).
/// Measured on realposts.py 100k, eight interleaved pairs: +8% posts/s
/// (median of the pairs' ratios, which ranged 0.97–1.26; +12% and +23% in
/// two pairs on generated posts), peak resident set +50 MiB (575 → 625).
const PURGE_DELAY_BULK_IMPORT: std::ffi::c_long = -1;

/// `mi_option_allow_thp` in mimalloc 3's `mi_option_e` (`mimalloc.h`).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Turns transparent huge pages off for the process, unless
/// `MIMALLOC_ALLOW_THP` says otherwise; `index` keeps them (below).
/// mimalloc asks for them on its arenas, so each arena grows and is purged
/// 2 MiB at a time; and on a virtual machine whose host takes back the
/// guest's free memory (as this project's machines do), the first write to
/// a fresh 2 MiB page ran at 0.26 GB/s, against 2.4 GB/s in 4 KiB pages.
/// Measured, interleaved: on 1M posts, `serve --read-only` under 32
/// connections, 3 pairs: VmHWM 248–257 → 224–238 MiB, 2–4% more searches/s,
/// p99 −3 to −9%; on realposts.py 100k, `bench` in-process: resident set
/// 104 → 86 MiB, latency the same. Databases advise the same (Redis,
/// MongoDB). A bulk import keeps them: on realposts.py 100k it ran 2%
/// faster without them (6 pairs), but on 1M generated posts it took 181.6 s
/// (59 s of system time, peak 2.31 GiB) against 145.8 s (16 s, 1.92 GiB).
fn disable_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: called first thing, before any other thread exists; the
    // option stops mimalloc asking for huge pages on new arenas, and the
    // prctl keeps the kernel from backing the arena it already has with
    // them (PR_SET_THP_DISABLE covers every mapping of the process). A
    // kernel without the prctl (before 3.15) refuses it and keeps them on.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
        let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused);
    }
}

fn main() {
    let bulk_import = postsearch::cli::is_bulk_import(std::env::args_os());
    if !bulk_import {
        disable_transparent_huge_pages();
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        let delay = if bulk_import {
            PURGE_DELAY_BULK_IMPORT
        } else {
            PURGE_DELAY_MS
        };
        // SAFETY: called first thing, before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
    }
    std::process::exit(postsearch::cli::main());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that mimalloc's option number `option` holds what the
    /// environment variable `name` sets (or mimalloc's `default`): if the
    /// number were another option's, this would read that one's value.
    fn assert_option_set_by(
        option: libmimalloc_sys::mi_option_t,
        name: &str,
        default: std::ffi::c_long,
    ) {
        // SAFETY: reading an option.
        let value = unsafe { libmimalloc_sys::mi_option_get(option) };
        let expected = std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default);
        assert_eq!(value, expected, "{name}");
    }

    #[test]
    fn the_purge_delay_option_is_the_one_its_environment_variable_sets() {
        assert_option_set_by(MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 1000);
    }

    #[test]
    fn the_huge_pages_option_is_the_one_its_environment_variable_sets() {
        assert_option_set_by(MI_OPTION_ALLOW_THP, "MIMALLOC_ALLOW_THP", 1);
    }

    #[test]
    fn only_index_is_a_bulk_import() {
        let args = |line: &'static str| line.split(' ').map(std::ffi::OsString::from);
        assert!(postsearch::cli::is_bulk_import(args(
            "postsearch --index index index posts.jsonl"
        )));
        assert!(!postsearch::cli::is_bulk_import(args(
            "postsearch --index index serve"
        )));
        assert!(!postsearch::cli::is_bulk_import(args(
            "postsearch search index"
        )));
        assert!(!postsearch::cli::is_bulk_import(args(
            "postsearch --no-such-flag index"
        )));
    }
}
