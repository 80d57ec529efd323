//! `ustrace._native.NativeTracer`: one compiled and attached script.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;

use ustrace::ast::AttachKind;
use ustrace::{BlockBinding, MessageLevel, Record, Script, ScriptOptions};

use crate::convert;
use crate::errors::to_py_err;

/// Probes bound to a labelled block, from Python: `(label, [(path,
/// provider, name), ...])`.
type PyBinding = (String, Vec<(String, Option<String>, String)>);

/// A compiled, attached script. Records come from [`NativeTracer::poll`];
/// [`NativeTracer::stop`] detaches and runs END; [`NativeTracer::close`]
/// frees everything. Used by one Python thread only.
#[pyclass(module = "ustrace._native", unsendable)]
pub(crate) struct NativeTracer {
    tracer: Option<ustrace::Tracer>,
    stopped: bool,
}

/// Lets a tracer (not `Send`: it holds a libbpf ring buffer and symbol
/// caches) into and out of a closure that runs without the GIL.
struct OnThisThread<T>(T);
// SAFETY: `Python::detach` runs the closure on the current thread before
// returning, so the value never actually changes threads.
unsafe impl<T> Send for OnThisThread<T> {}

#[pymethods]
impl NativeTracer {
    /// Compiles `script`, attaches it and runs its BEGIN blocks.
    ///
    /// `pid` traces one process; `child_pid` a process started for the
    /// trace (`cpid`); `bindings` allows labelled blocks and gives their
    /// probes. Raises ScriptError, ProbeError or KernelError.
    #[new]
    #[pyo3(signature = (script, source_name="<script>", pid=None, child_pid=None, bindings=None))]
    fn new(
        py: Python<'_>,
        script: &str,
        source_name: &str,
        pid: Option<u32>,
        child_pid: Option<u32>,
        bindings: Option<Vec<PyBinding>>,
    ) -> PyResult<NativeTracer> {
        let block_bindings = bindings.map(|list| {
            list.into_iter()
                .map(|(label, probes)| BlockBinding {
                    label,
                    probes: probes
                        .into_iter()
                        .map(|(path, provider, name)| AttachKind::Usdt {
                            path,
                            provider,
                            name,
                        })
                        .collect(),
                })
                .collect()
        });
        if let Some(p) = pid.or(child_pid) {
            if !std::path::Path::new(&format!("/proc/{p}")).exists() {
                return Err(crate::errors::ProbeError::new_err(format!(
                    "no process with pid {p}"
                )));
            }
        }
        let mut options = ScriptOptions::builder().event_context(true);
        if let Some(p) = pid {
            options = options.pid(p);
        }
        if let Some(p) = child_pid {
            options = options.child_pid(p);
        }
        if let Some(b) = block_bindings {
            options = options.block_bindings(b);
        }
        let options = options.build();
        let source = script.to_string();
        let name = source_name.to_string();
        let started = py.detach(move || {
            let start = || -> Result<ustrace::Tracer, ustrace::Error> {
                ustrace::check_privileges()?;
                let compiled = Script::compile(&source, &name, &options)?;
                let mut tracer = compiled.start()?;
                tracer.begin();
                Ok(tracer)
            };
            OnThisThread(start())
        });
        let tracer = started.0.map_err(|e| to_py_err(&e))?;
        Ok(NativeTracer {
            tracer: Some(tracer),
            stopped: false,
        })
    }

    /// Waits up to `timeout` seconds for records, with the GIL released.
    /// Returns a list of tuples: `("printf", text, args, context)` where
    /// context is `(comm, pid, tid, cpu, nsecs, probe)`, `("map", name,
    /// text)`, `("exit", code)` or `("message", "error"|"warning", text)`
    /// (errorf/warnf, for standard error). A pending signal (Ctrl-C) raises.
    fn poll(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Vec<Py<PyAny>>> {
        let tracer = self.live()?;
        let wait = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
        let wrapped = OnThisThread(tracer);
        let polled = py
            .detach(move || {
                let w = wrapped;
                OnThisThread(w.0.poll(wait))
            })
            .0;
        py.check_signals()?;
        let records = polled.map_err(|e| to_py_err(&e))?;
        records.iter().map(|r| record(py, r)).collect()
    }

    /// Detaches the probes, runs END, and returns the last records (as
    /// [`NativeTracer::poll`]). Maps stay readable. Idempotent.
    fn stop(&mut self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        if self.stopped {
            return Ok(Vec::new());
        }
        self.stopped = true;
        let tracer = self.live()?;
        let records = tracer.end().map_err(|e| to_py_err(&e))?;
        records.iter().map(|r| record(py, r)).collect()
    }

    /// Frees the programs and maps (detaching first if needed).
    fn close(&mut self) {
        self.tracer = None;
        self.stopped = true;
    }

    /// True until `close()`.
    #[getter]
    fn open(&self) -> bool {
        self.tracer.is_some()
    }

    /// The script's maps as `[(name, key_fields)]`, names with `@`.
    fn map_names(&mut self) -> PyResult<Vec<(String, usize)>> {
        Ok(self
            .live()?
            .maps()
            .into_iter()
            .map(|m| (m.name, m.key_fields))
            .collect())
    }

    /// Reads map `name` now: the value of a scalar map (None when unset),
    /// a dict for a keyed map. KeyError for an unknown map.
    fn read_map(&mut self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        let tracer = self.live()?;
        let key_fields = tracer
            .maps()
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.key_fields);
        let read = tracer.read_map(name).map_err(|e| to_py_err(&e))?;
        match (key_fields, read) {
            (Some(k), Some(Record::Map { entries, .. })) => convert::map_entries(py, k, &entries),
            _ => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// The map as bpftrace prints it. KeyError for an unknown map.
    fn map_text(&mut self, name: &str) -> PyResult<String> {
        match self.live()?.read_map(name).map_err(|e| to_py_err(&e))? {
            Some(Record::Map { text, .. }) => Ok(text),
            _ => Err(pyo3::exceptions::PyKeyError::new_err(name.to_string())),
        }
    }

    /// Deletes every entry of map `name`. KeyError for an unknown map.
    fn clear_map(&mut self, name: &str) -> PyResult<()> {
        if self.live()?.clear_map(name) {
            Ok(())
        } else {
            Err(pyo3::exceptions::PyKeyError::new_err(name.to_string()))
        }
    }

    /// Events dropped because the ring buffer was full.
    fn lost_events(&mut self) -> PyResult<u64> {
        self.live()?.lost_events().map_err(|e| to_py_err(&e))
    }
}

impl NativeTracer {
    fn live(&mut self) -> PyResult<&mut ustrace::Tracer> {
        self.tracer
            .as_mut()
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("the tracer is closed"))
    }
}

/// One record as a tuple (see [`NativeTracer::poll`]).
fn record(py: Python<'_>, r: &Record) -> PyResult<Py<PyAny>> {
    match r {
        Record::Printf {
            text,
            args,
            context,
            ..
        } => {
            let values = args
                .iter()
                .map(|a| convert::value(py, a))
                .collect::<PyResult<Vec<_>>>()?;
            let ctx = match context {
                Some(c) => (
                    c.comm.as_str(),
                    c.pid,
                    c.tid,
                    c.cpu,
                    c.nsecs,
                    c.probe.as_str(),
                )
                    .into_py_any(py)?,
                None => py.None(),
            };
            ("printf", text.as_str(), PyTuple::new(py, values)?, ctx).into_py_any(py)
        }
        Record::Map { name, text, .. } => ("map", name.as_str(), text.as_str()).into_py_any(py),
        Record::Exit { code } => ("exit", *code).into_py_any(py),
        Record::Message { level, text } => {
            let level = match level {
                MessageLevel::Error => "error",
                MessageLevel::Warning => "warning",
            };
            ("message", level, text.as_str()).into_py_any(py)
        }
    }
}
