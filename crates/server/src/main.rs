fn main() -> anyhow::Result<()> {
    kendrix_server::cli::main()
}
