use tracing_subscriber::EnvFilter;

/// Text or JSON logs on stderr, filtered by `level` (RUST_LOG syntax). Never logs secrets:
/// tokens and keys are [`tillbridge_lightspeed::Secret`]s, which print as `***`.
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Logging for the one-shot commands (benchmarks, imports) that print their own results:
/// warnings only, unless `TILLBRIDGE_LOG` asks for more.
pub fn init_quiet() {
    let level = std::env::var("TILLBRIDGE_LOG").unwrap_or_else(|_| "warn,sqlx=error".to_owned());
    init("text", &level);
}
