//! A script's `config = { ... }` block applied to its [`ScriptOptions`]:
//! the block wins over the environment and the defaults, as in bpftrace.
//! The parser has checked the values' ranges.

use ustrace_lang::ast::Config;

use crate::ScriptOptions;

/// `options` with the block's `max_strlen` and `max_map_keys`; the other
/// keys are read where they act (`stack_mode` by the compiler,
/// `print_maps_on_exit` by [`crate::Tracer::final_maps`]).
pub(crate) fn apply(config: &Config, options: &ScriptOptions) -> ScriptOptions {
    let mut out = options.clone();
    if let Some(n) = config.max_strlen {
        out.str_len = n;
    }
    if let Some(n) = config.max_map_keys {
        out.max_map_keys = n;
    }
    out
}
