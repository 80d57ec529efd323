//! Python exceptions carrying the messages the `ustrace` command prints.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    UstraceError,
    PyException,
    "Base class of every ustrace error."
);
create_exception!(
    _native,
    ScriptError,
    UstraceError,
    "An error at a place in the script: `line` and `column` (1-based) say where, `summary` is the one-line form."
);
create_exception!(
    _native,
    ProbeError,
    UstraceError,
    "A probe, file, pid or binding that cannot be found or used."
);
create_exception!(
    _native,
    KernelError,
    UstraceError,
    "The kernel refused something (privileges, the verifier, an attach)."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("UstraceError", py.get_type::<UstraceError>())?;
    m.add("ScriptError", py.get_type::<ScriptError>())?;
    m.add("ProbeError", py.get_type::<ProbeError>())?;
    m.add("KernelError", py.get_type::<KernelError>())?;
    Ok(())
}

/// The Python exception for a library error. Script errors get the
/// attributes `line`, `column`, `summary` and `rendered`.
pub(crate) fn to_py_err(e: &ustrace::Error) -> PyErr {
    match e {
        ustrace::Error::Script { summary, rendered } => {
            let err = ScriptError::new_err(rendered.trim_end().to_string());
            Python::attach(|py| {
                let value = err.value(py);
                let (line, column) = line_column(summary).unzip();
                let _ = value.setattr("line", line);
                let _ = value.setattr("column", column);
                let _ = value.setattr("summary", summary.as_str());
                let _ = value.setattr("rendered", rendered.trim_end());
            });
            err
        }
        ustrace::Error::Probe(_) | ustrace::Error::Binding(_) => ProbeError::new_err(e.render()),
        ustrace::Error::Kernel { .. } => KernelError::new_err(e.render()),
        _ => UstraceError::new_err(e.render()),
    }
}

/// `(line, column)` from `NAME:LINE:COL: error: ...`.
fn line_column(summary: &str) -> Option<(u32, u32)> {
    let head = summary.split(": error:").next()?;
    let mut parts = head.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((line, column))
}
