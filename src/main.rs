use std::process::ExitCode;

fn main() -> ExitCode {
    jit::cli::main()
}
