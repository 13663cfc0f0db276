//! The `videoapi` binary: run the CLI and map its exit code.

// The allocator is glibc's, chosen by measurement: with 100 000 unfinished tasks held
// (`N=100000 bash scripts/hold-bench.sh`, release, same 2-core machine and load) glibc
// idled at 22 MiB, held them in 117 MiB and sat at 133 MiB 10 s after a restart; mimalloc
// 0.1.52 idled at 55 MiB, held them in 162 MiB and grew to 430 MiB after the restart
// (stop 0.16 s vs 0.07 s, restart to serving 0.59 s vs 0.49 s: both well inside the goals).

fn main() -> std::process::ExitCode {
    videoapi::cli::run()
}
