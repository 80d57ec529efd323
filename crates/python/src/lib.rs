//! The native half of the `ustrace` Python package (`ustrace._native`).
//!
//! A thin layer over the `ustrace` library: compile + attach a script,
//! poll its records with the GIL released, read and clear its maps, list
//! probes. The Pythonic and BCC-shaped classes (`Tracer`, `BPF`, `USDT`,
//! map views) live in `python/ustrace/__init__.py` on top of this module.

use pyo3::prelude::*;

mod convert;
mod errors;
mod tracer;

use errors::to_py_err;

/// Lines naming the USDT probes of a file or a process, as `ustrace -l`
/// prints them (`usdt:PATH:PROVIDER:NAME`).
#[pyfunction]
#[pyo3(signature = (target))]
fn list_probes(target: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let lines = if let Ok(pid) = target.extract::<u32>() {
        ustrace::list_probes("*", Some(pid), false)
    } else {
        let path: String = target.extract()?;
        ustrace::list_probes(&path, None, false)
    };
    lines.map_err(|e| to_py_err(&e))
}

/// The probes `probe` (`PROVIDER:NAME` or `NAME`) names in process `pid`
/// or in file `path`, as `(path, provider, name)`; an error when none does.
#[pyfunction]
#[pyo3(signature = (probe, pid=None, path=None))]
fn find_usdt(
    probe: &str,
    pid: Option<u32>,
    path: Option<&str>,
) -> PyResult<Vec<(String, String, String)>> {
    let usdt = match (pid, path) {
        (Some(pid), None) => {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return Err(errors::ProbeError::new_err(format!(
                    "no process with pid {pid}"
                )));
            }
            ustrace::Usdt::for_pid(pid)
        }
        (None, Some(path)) => ustrace::Usdt::for_path(path),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "USDT needs exactly one of pid= or path=",
            ))
        }
    };
    let usdt = usdt.enable_probe(probe).map_err(|e| to_py_err(&e))?;
    Ok(usdt
        .enabled()
        .iter()
        .map(|p| (p.path.clone(), p.provider.clone(), p.name.clone()))
        .collect())
}

/// The module `ustrace._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<tracer::NativeTracer>()?;
    m.add_function(wrap_pyfunction!(list_probes, m)?)?;
    m.add_function(wrap_pyfunction!(find_usdt, m)?)?;
    Ok(())
}
