//! The `mailroom` command line: argument handling only.

use clap::{Parser, Subcommand};
use mailroom::config::Config;
use mailroom::delivery::outbound::admin::Ask;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mailroom",
    version,
    about = "A mail server for AI agents: SMTP, IMAP and a provisioning API"
)]
struct Cli {
    /// Log line format on stderr: `text` for people, `json` (one object a line) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// What is logged unless MAILROOM_LOG or RUST_LOG says otherwise: sled's debug
/// chatter stays out.
const DEFAULT_LOG_FILTER: &str = "info,sled=warn";

/// Logs to stderr, filtered by MAILROOM_LOG, else RUST_LOG, else the default.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = ["MAILROOM_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .map_or_else(
            || EnvFilter::new(DEFAULT_LOG_FILTER),
            |spec| {
                EnvFilter::try_new(&spec).unwrap_or_else(|e| {
                    eprintln!("mailroom: ignoring the log filter {spec:?}: {e}");
                    EnvFilter::new(DEFAULT_LOG_FILTER)
                })
            },
        );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until SIGTERM or SIGINT.
    Serve {
        /// Config file (default: $MAILROOM_CONFIG, else config/mailroom.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a config file and exit.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the DKIM TXT record to publish for DOMAIN (the key is made on first use).
    DkimRecord {
        domain: String,
        #[arg(long)]
        config: Option<PathBuf>,
        /// The running server's API (default: the first `[api] listen` address).
        #[arg(long)]
        server: Option<String>,
    },
    /// The outbound queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Show what waits for delivery and why.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The running server's API (default: the first `[api] listen` address).
        #[arg(long)]
        server: Option<String>,
        /// Print the JSON report instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => match Config::load(config.as_deref()) {
            Ok(c) => {
                println!("{}: ok", c.source);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mailroom: bad config: {e}");
                ExitCode::from(2)
            }
        },
        Command::DkimRecord { domain, config, server } => admin(config, server, Ask::Dkim(&domain), |v| {
            v["zone"].as_str().unwrap_or_default().to_string()
        }),
        Command::Queue {
            command: QueueCommand::List { config, server, json },
        } => admin(config, server, Ask::Queue, |v| {
            if json {
                v.to_string()
            } else {
                mailroom::delivery::outbound::admin::queue_table(v)
            }
        }),
    }
}

/// Runs an operator question (see delivery::outbound::admin) and prints the answer.
fn admin(
    config_path: Option<PathBuf>,
    server: Option<String>,
    ask: Ask<'_>,
    show: impl Fn(&serde_json::Value) -> String,
) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailroom: bad config: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailroom: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(mailroom::delivery::outbound::admin::ask(
        &config,
        server.as_deref(),
        ask,
    )) {
        Ok(answer) => {
            println!("{}", show(&answer).trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mailroom: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config_path: Option<PathBuf>) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailroom: bad config: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailroom: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match mailroom::start(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_stop_signal().await;
        tracing::info!("stopping");
        match server.shutdown().await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("flushing the store at shutdown: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
