//! `kiln-datagen`: writes the raw data of the analytics project as seed CSV files, and the
//! answer key that its singular tests compare the marts with.
//!
//! The answer key is computed here, in Rust, directly from the generated rows and independently
//! of any SQL, so that a wrong join in a model shows up as a failing test rather than as a
//! plausible number. The data is deterministic for a seed and grows with the scale factor.
//!
//!     cargo run -p kiln-datagen -- [--out seeds] [--scale 1] [--seed 42] [--only web,funnel,saas]
//!
//! Scale 1 is what the repository commits under seeds/ (a few MB); the benchmarks write larger
//! scales outside the repository, `--only saas` for the incremental benchmark.

mod csv;
mod funnel;
mod saas;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

/// A value drawn with the given weights.
fn pick<T: Copy>(rng: &mut fastrand::Rng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.u32(..total);
    for (value, weight) in weighted {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    weighted[0].0
}

struct Args {
    out: PathBuf,
    scale: u32,
    seed: u64,
    datasets: Vec<String>,
}

const DATASETS: &[&str] = &["web", "funnel", "saas"];

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("seeds"),
        scale: 1,
        seed: 42,
        datasets: DATASETS.iter().map(|d| (*d).to_owned()).collect(),
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
            "--only" => {
                args.datasets = value.split(',').map(str::to_owned).collect();
                if let Some(unknown) = args
                    .datasets
                    .iter()
                    .find(|d| !DATASETS.contains(&d.as_str()))
                {
                    return Err(format!(
                        "--only takes datasets among {}, not `{unknown}`",
                        DATASETS.join(", ")
                    ));
                }
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; use --out DIR, --scale N, --seed N, --only LIST"
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
    let wanted = |name: &str| args.datasets.iter().any(|d| d == name);
    let mut parts = Vec::new();
    if wanted("web") {
        parts.push(web::files(args.scale, args.seed));
    }
    if wanted("funnel") {
        parts.push(funnel::files(args.scale, args.seed));
    }
    if wanted("saas") {
        parts.push(saas::files(args.scale, args.seed));
    }
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
