//! The `videoapi` binary: run the CLI and map its exit code.

// The allocator is glibc's with two arenas (`MALLOC_ARENA_MAX=2`, set by install.sh's
// systemd unit), chosen by measurement: 100 000 unfinished tasks held by one server
// (`N=100000 bash scripts/hold-bench.sh`, release, the shared 2-core machine), RSS idle /
// holding them / 70 s after a restart with them:
//   glibc, 2 arenas         22 / 130 / 137 MiB   (stop 0.08 s, restart to serving 0.30 s)
//   glibc, default arenas   22 / 116 / 170 MiB   (stop 0.18 s, restart 0.25 s)
//   mimalloc 0.1.52         55 / 162 / 430 MiB   (10 s after; stop 0.07 s, restart 0.49 s)

fn main() -> std::process::ExitCode {
    videoapi::cli::run()
}
