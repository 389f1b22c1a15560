// Batch ingest allocates heavily (JSON trees, SQL arguments); with glibc's malloc a quarter
// of the CPU went to allocation in the S1 profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    kendrix_server::cli::main()
}
