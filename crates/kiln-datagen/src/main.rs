//! `kiln-datagen`: writes the raw data of the analytics project as seed CSV files, and the
//! answer key that its singular tests compare the marts with.
//!
//! The answer key is computed here, in Rust, directly from the generated rows and independently
//! of any SQL, so that a wrong join in a model shows up as a failing test rather than as a
//! plausible number. The data is deterministic for a seed and grows with the scale factor.
//!
//!     cargo run -p kiln-datagen -- [--out seeds] [--scale 1] [--seed 42]

mod csv;
mod funnel;
mod saas;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

struct Args {
    out: PathBuf,
    scale: u32,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("seeds"),
        scale: 1,
        seed: 42,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => args.out = PathBuf::from(value),
            "--scale" => {
                args.scale = value
                    .parse()
                    .map_err(|_| format!("--scale takes a whole number, not `{value}`"))?
            }
            "--seed" => {
                args.seed = value
                    .parse()
                    .map_err(|_| format!("--seed takes a whole number, not `{value}`"))?
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; use --out DIR, --scale N, --seed N"
                ));
            }
        }
    }
    Ok(args)
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let parts = [
        web::files(args.scale, args.seed),
        funnel::files(args.scale, args.seed),
        saas::files(args.scale, args.seed),
    ];
    let files: Vec<(String, String)> = parts.iter().flat_map(|(f, _)| f.clone()).collect();
    match csv::write_all(&args.out, &files) {
        Ok(()) => {
            for (_, summary) in &parts {
                eprintln!("{summary}");
            }
            eprintln!("wrote {} files to {}", files.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
