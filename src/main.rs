//! The `videoapi` binary: run the CLI and map its exit code.

fn main() -> std::process::ExitCode {
    videoapi::cli::run()
}
