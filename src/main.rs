use std::process::ExitCode;

// A history walk allocates and frees millions of small buffers (object
// data, parsed requests, events); glibc's allocator spent a quarter of an
// audit's time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    jit::cli::main()
}
