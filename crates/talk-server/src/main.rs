fn main() -> std::process::ExitCode {
    talk_server::cli::main()
}
