//! Lists the USDT probes of a file: `cargo run -p ustrace-probes --example usdt_list -- PATTERN [PID] [-v]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(text) = args.first() else {
        eprintln!("usage: usdt_list PATH:PROVIDER:NAME [PID] [-v]");
        std::process::exit(2);
    };
    let verbose = args.iter().any(|a| a == "-v");
    let pid = args.iter().skip(1).find_map(|a| a.parse::<u32>().ok());
    let result = ustrace_probes::UsdtPattern::parse(text)
        .and_then(|p| ustrace_probes::find_usdt_probes(&p, pid));
    match result {
        Ok(found) if verbose => {
            for f in &found {
                for line in ustrace_probes::describe_probe(f) {
                    println!("{line}");
                }
            }
        }
        Ok(found) => {
            for line in ustrace_probes::list_lines(&found) {
                println!("{line}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
