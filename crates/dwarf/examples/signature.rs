//! Prints the signature of a function from a file's debug information:
//! `cargo run -p ustrace-dwarf --example signature -- PATH FUNCTION`.

use std::io::Write;
use std::path::Path;

use ustrace_dwarf::{DebugInfo, TypeTable};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(name)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: signature PATH FUNCTION");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let info = match DebugInfo::open(Path::new(path)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    eprintln!("read in {:?}", started.elapsed());
    let mut types = TypeTable::new();
    let mut out = std::io::stdout().lock();
    match info.function_named(name, &mut types) {
        Ok(functions) => {
            for f in functions {
                let _ = writeln!(
                    out,
                    "{} -> {} [{}]",
                    f.qualified_name,
                    types.name(f.return_type),
                    f.return_location
                );
                for p in &f.params {
                    let _ = writeln!(out, "    {} {} [{}]", types.name(p.ty), p.name, p.location);
                }
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
