fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(llmops::cli::run())
}
