//! Map layouts: the key fields and value kind of every `@map`, fixed by
//! its first use and checked at every other.

use ustrace_lang::ast::{Expr, ExprKind, Span};

use super::types::{key_layout, MapValueError};
use super::{Checker, Type, Typed};
use crate::builtins::Aggregation;
use crate::program::{FieldKind, TseriesAgg, UserMap, ValueKind};
use crate::CompileError;

impl Checker<'_> {
    /// The key fields of `@m[keys]`.
    pub(crate) fn key_fields(&mut self, keys: &[Expr]) -> Result<Vec<FieldKind>, CompileError> {
        let mut types = Vec::new();
        for k in keys {
            types.push(self.expr(k)?.ty);
        }
        let fields = key_layout(&types, self.map_str_len()).map_err(|i| {
            CompileError::new(
                keys[i].span,
                "this expression has no value to use as a map key",
            )
        })?;
        if let (Some(first), Some(last)) = (keys.first(), keys.last()) {
            if fields.iter().all(|f| f.size() == 0) {
                return Err(CompileError::new(
                    first.span.to(last.span),
                    "an empty tuple `()` cannot be a whole map key: it has no bytes",
                ));
            }
        }
        Ok(fields)
    }

    /// The layout of `@name` so far.
    pub(crate) fn map_layout(&self, name: &str) -> Option<&UserMap> {
        let full = format!("@{name}");
        self.maps.maps.iter().find(|m| m.name == full)
    }

    /// `@name[keys] = value`.
    pub(crate) fn map_store(
        &mut self,
        name: &str,
        keys: &[Expr],
        ty: &Type,
        span: Span,
    ) -> Result<(), CompileError> {
        let value = match ty.map_value(self.map_str_len()) {
            Ok(v) => v,
            Err(MapValueError::Unsupported) => {
                return Err(CompileError::new(
                    span,
                    match ty {
                        Type::Tuple(_) => "a tuple stored in a map may hold integers, bools, strings and tuples of those only".to_string(),
                        _ => format!(
                            "storing `{}` in a map is not supported; use it as a key",
                            ty.name()
                        ),
                    },
                ))
            }
            Err(MapValueError::Void) => {
                return Err(CompileError::new(
                    span,
                    "this expression has no value to store",
                ))
            }
        };
        if value == (ValueKind::Tuple { size: 0 }) {
            return Err(CompileError::new(
                span,
                "an empty tuple `()` has no bytes to store in a map",
            ));
        }
        let value_fields = match value {
            ValueKind::Tuple { .. } => ty.record_fields().unwrap_or_default(),
            _ => Vec::new(),
        };
        let key = self.key_fields(keys)?;
        self.define_map(name, &key, value, &value_fields, span)
    }

    /// Reads `@name[keys]`: an integer, bool, string or tuple.
    pub(crate) fn map_read(
        &mut self,
        name: &str,
        keys: &[Expr],
        span: Span,
    ) -> Result<Typed, CompileError> {
        let Some(def) = self.map_layout(name).cloned() else {
            if self.lenient {
                return Ok(Typed::int_const(0, false));
            }
            return Err(CompileError::new(
                span,
                format!("undefined map @{name}: it is never assigned"),
            ));
        };
        let key = self.key_fields(keys)?;
        if !same_key_shape(&key, &def.key) {
            return Err(CompileError::new(
                span,
                format!(
                    "map @{name} has keys [{}] but is read here with [{}]",
                    describe_key(&def.key),
                    describe_key(&key)
                ),
            ));
        }
        value_type(name, &def, span)
    }

    /// `@m[k] = count()` and the other aggregations.
    pub(crate) fn aggregate(
        &mut self,
        name: &str,
        keys: &[Expr],
        agg: &Aggregation,
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        if agg.name == "tseries" {
            return self.tseries(name, keys, args, span);
        }
        let (min, max) = agg.args;
        if args.len() < min || args.len() > max {
            let wanted = if min == max {
                min.to_string()
            } else {
                format!("{min} or {max}")
            };
            return Err(CompileError::new(
                span,
                format!(
                    "{}() takes {wanted} argument(s), {} given",
                    agg.name,
                    args.len()
                ),
            ));
        }
        let mut consts = Vec::new();
        for a in args.iter().skip(1) {
            match self.expr(a)?.konst {
                Some(v) => consts.push(v),
                None => {
                    return Err(CompileError::new(
                        a.span,
                        match agg.name {
                            "hist" => "hist()'s k must be an integer constant".to_string(),
                            name => format!("{name}() bounds and step must be integer constants"),
                        },
                    ))
                }
            }
        }
        let value = (agg.value)(&consts).map_err(|m| CompileError::new(span, m))?;
        if let Some(a) = args.first() {
            let t = self.expr(a)?;
            if !t.ty.is_numeric() {
                return Err(CompileError::new(
                    a.span,
                    format!("{}() needs an integer, not a {}", agg.name, t.ty.name()),
                ));
            }
        }
        let key = self.key_fields(keys)?;
        self.define_map(name, &key, value, &[], span)
    }

    /// The `(key, value)` tuple `for ($kv : @m)` gives (the key a tuple
    /// of its fields when there are several); `None` for a map no block
    /// assigned yet in the first walk.
    pub(crate) fn map_element_type(&mut self, m: &Expr) -> Result<Option<Type>, CompileError> {
        let ExprKind::Map { name, .. } = &m.kind else {
            return Err(CompileError::new(m.span, "expected a map (@name)"));
        };
        let Some(def) = self.existing_map(name, m.span)? else {
            return Ok(None);
        };
        if def.key.is_empty() {
            return Err(CompileError::new(
                m.span,
                format!("`for` over @{name}, a scalar map: it has no keys to iterate"),
            ));
        }
        let value = match def.value {
            ValueKind::Int { signed } => Type::int(signed),
            ValueKind::Bool => Type::Bool,
            // Summed over the CPUs by the loop.
            ValueKind::Count => Type::int(false),
            ValueKind::Sum => Type::int(true),
            ValueKind::Str(n) => Type::Str(n),
            ValueKind::Named(FieldKind::ProbeName) => Type::ProbeName,
            ValueKind::Tuple { .. } => Type::of_fields(&def.value_fields).ok_or_else(|| {
                CompileError::new(m.span, format!("map @{name}: malformed tuple value"))
            })?,
            other => {
                return Err(CompileError::new(
                    m.span,
                    format!(
                        "`for` over @{name}, which holds {}: only count() and sum() maps can be iterated among aggregations",
                        describe_value(other)
                    ),
                ))
            }
        };
        let key = match Type::of_fields(&def.key) {
            Some(k) => k,
            None => {
                let mut key_fields = vec![FieldKind::Tuple(def.key.len())];
                key_fields.extend(def.key.iter().copied());
                Type::of_fields(&key_fields).ok_or_else(|| {
                    CompileError::new(m.span, format!("map @{name}: its key cannot be a value"))
                })?
            }
        };
        Ok(Some(Type::Tuple(vec![key, value])))
    }

    /// The map a `delete()`/`has_key()`/`print()` names, which must exist
    /// (after the first walk).
    pub(crate) fn existing_map(
        &self,
        name: &str,
        span: Span,
    ) -> Result<Option<UserMap>, CompileError> {
        match self.map_layout(name) {
            Some(m) => Ok(Some(m.clone())),
            None if self.lenient => Ok(None),
            None => Err(CompileError::new(span, format!("undefined map @{name}"))),
        }
    }

    /// `delete(@m[k])`.
    pub(crate) fn map_delete(&mut self, target: &Expr, span: Span) -> Result<(), CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "delete() takes a map element: delete(@m[key])",
            ));
        };
        let Some(def) = self.existing_map(name, target.span)? else {
            return Ok(());
        };
        if def.value.has_index_key() {
            return Err(CompileError::new(
                span,
                format!(
                    "delete() of an element of {} is not supported; use clear()",
                    describe_value(def.value)
                ),
            ));
        }
        let key = self.key_fields(keys)?;
        if !same_key_shape(&key, &def.key) {
            return Err(CompileError::new(
                target.span,
                format!("map @{name} has keys [{}]", describe_key(&def.key)),
            ));
        }
        Ok(())
    }

    /// `has_key(@m[k])`.
    pub(crate) fn map_has_key(&mut self, target: &Expr) -> Result<Typed, CompileError> {
        let ExprKind::Map { name, keys } = &target.kind else {
            return Err(CompileError::new(
                target.span,
                "has_key() takes a map element: has_key(@m[key])",
            ));
        };
        let Some(def) = self.existing_map(name, target.span)? else {
            return Ok(Typed::bool_const(false));
        };
        if def.key.is_empty() {
            return Err(CompileError::new(
                target.span,
                format!("has_key(): @{name} is a scalar map (it has no keys)"),
            ));
        }
        if def.value.has_index_key() {
            // Its entries are kept per bucket or slot, not per key.
            return Err(CompileError::new(
                target.span,
                format!(
                    "has_key() of @{name}, which holds {}, is not supported",
                    describe_value(def.value)
                ),
            ));
        }
        self.key_fields(keys)?;
        Ok(Typed::bool())
    }

    /// `print(@m[, top[, div]])`, `clear(@m)`, `zero(@m)`: a whole map and
    /// constant integers.
    pub(crate) fn map_command(&mut self, args: &[Expr], span: Span) -> Result<(), CompileError> {
        let (name, first) = whole_map_argument(args, span)?;
        self.existing_map(name, first)?;
        for a in args[1..].iter().take(2) {
            if self.expr(a)?.konst.is_none() {
                return Err(CompileError::new(a.span, "expected an integer constant"));
            }
        }
        Ok(())
    }

    /// Finds or creates the map `name` with this layout; a different layout
    /// than an earlier use is a type error.
    pub(crate) fn define_map(
        &mut self,
        name: &str,
        key: &[FieldKind],
        value: ValueKind,
        value_fields: &[FieldKind],
        span: Span,
    ) -> Result<(), CompileError> {
        let full = format!("@{name}");
        let Some(existing) = self.maps.maps.iter_mut().find(|m| m.name == full) else {
            self.maps.maps.push(UserMap {
                name: full,
                key: key.to_vec(),
                value,
                value_fields: value_fields.to_vec(),
            });
            return Ok(());
        };
        if !same_key_shape(&existing.key, key) {
            return Err(CompileError::new(
                span,
                format!(
                    "map {full} is used with different key types: first [{}], here [{}]",
                    describe_key(&existing.key),
                    describe_key(key)
                ),
            ));
        }
        // Integer fields unify whatever their signedness (literals are
        // unsigned here, bpftrace's are int64); signed wins.
        for (a, b) in existing.key.iter_mut().zip(key) {
            if let (FieldKind::Int { signed: x }, FieldKind::Int { signed: y }) = (&*a, b) {
                *a = FieldKind::Int { signed: *x || *y };
            }
        }
        let same = match (existing.value, value) {
            // An integer map also takes bools (stored as 0 or 1).
            (ValueKind::Int { .. }, ValueKind::Int { .. } | ValueKind::Bool) => true,
            (ValueKind::Tuple { .. }, ValueKind::Tuple { .. }) => {
                same_key_shape(&existing.value_fields, value_fields)
            }
            // Signedness unifies as for integers; the arguments must agree.
            (
                ValueKind::Tseries {
                    interval_ns: i1,
                    num_intervals: n1,
                    agg: a1,
                    ..
                },
                ValueKind::Tseries {
                    interval_ns: i2,
                    num_intervals: n2,
                    agg: a2,
                    ..
                },
            ) => (i1, n1, a1) == (i2, n2, a2),
            (a, b) => a == b,
        };
        if !same {
            return Err(CompileError::new(
                span,
                format!(
                    "map {full} holds {} but is used here as {}",
                    describe_value(existing.value),
                    describe_value(value)
                ),
            ));
        }
        if let (ValueKind::Int { signed: false }, ValueKind::Int { signed: true }) =
            (existing.value, value)
        {
            existing.value = ValueKind::Int { signed: true };
        }
        if let (ValueKind::Tseries { signed, .. }, ValueKind::Tseries { signed: true, .. }) =
            (&mut existing.value, value)
        {
            *signed = true;
        }
        Ok(())
    }
}

/// `int64, string` for messages.
pub(crate) fn describe_key(k: &[FieldKind]) -> String {
    k.iter()
        .map(|f| match f {
            FieldKind::Int { signed: true } => "int64",
            FieldKind::Int { signed: false } => "uint64",
            FieldKind::Str(_) => "string",
            FieldKind::Bool => "bool",
            FieldKind::Tuple(_) => "tuple",
            FieldKind::ProbeName => "probe",
            FieldKind::UStack(_) => "ustack",
            FieldKind::USym => "usym",
            FieldKind::Buffer(_) => "buffer",
            FieldKind::Strftime(_) => "timestamp",
            FieldKind::Username => "username",
            FieldKind::Strerror => "strerror",
            FieldKind::SyscallName => "syscall name",
            FieldKind::Inet => "inet",
            FieldKind::Record { .. } => "struct",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `an integer`, `count()`, ... for messages.
pub(crate) fn describe_value(v: ValueKind) -> String {
    match v {
        ValueKind::Int { .. } => "an integer".into(),
        ValueKind::Str(_) => "a string".into(),
        ValueKind::Bool => "a bool".into(),
        ValueKind::Tuple { .. } => "a tuple".into(),
        ValueKind::Named(FieldKind::USym) => "a usym".into(),
        ValueKind::Named(FieldKind::ProbeName) => "a probe".into(),
        ValueKind::Named(_) => "a ustack".into(),
        ValueKind::Count => "count()".into(),
        ValueKind::Sum => "sum()".into(),
        ValueKind::Min => "min()".into(),
        ValueKind::Max => "max()".into(),
        ValueKind::Avg => "avg()".into(),
        ValueKind::Stats => "stats()".into(),
        ValueKind::Hist => "hist()".into(),
        ValueKind::FineHist { bits } => format!("hist(x, {bits})"),
        ValueKind::Lhist { .. } => "lhist()".into(),
        ValueKind::Tseries {
            interval_ns,
            num_intervals,
            agg,
            ..
        } => {
            let interval = ustrace_lang::lexer::duration_literal(interval_ns);
            match agg {
                TseriesAgg::Last => format!("tseries(x, {interval}, {num_intervals})"),
                agg => format!(
                    "tseries(x, {interval}, {num_intervals}, \"{}\")",
                    agg.name()
                ),
            }
        }
    }
}

/// True when two key layouts agree, integers matching whatever their
/// signedness (bpftrace treats every integer key as 64-bit).
pub(crate) fn same_key_shape(a: &[FieldKind], b: &[FieldKind]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (FieldKind::Int { .. }, FieldKind::Int { .. }) => true,
            _ => x == y,
        })
}

/// The first argument of `print(@m)`, `clear(@m)`, `zero(@m)`: a whole map
/// (`@name`, no keys). Returns its name and span. Used by the semantic pass
/// and by the emitter, which reads the same argument.
pub(crate) fn whole_map_argument(args: &[Expr], span: Span) -> Result<(&str, Span), CompileError> {
    let Some(first) = args.first() else {
        return Err(CompileError::new(
            span,
            "this function needs a map argument",
        ));
    };
    let ExprKind::Map { name, keys } = &first.kind else {
        return Err(CompileError::new(first.span, "expected a map (@name)"));
    };
    if !keys.is_empty() {
        return Err(CompileError::new(
            first.span,
            "give the whole map (@name), not an element",
        ));
    }
    Ok((name, first.span))
}

/// The type a read of the map `name` (laid out as `def`) gives: an
/// 8-byte integer value (assigned ints and count/sum/min/max, this CPU's
/// share only, as in bpftrace), a string, a bool, a probe or a tuple.
pub(crate) fn value_type(name: &str, def: &UserMap, span: Span) -> Result<Typed, CompileError> {
    match def.value {
        ValueKind::Int { signed } => Ok(Typed::int(signed)),
        ValueKind::Count => Ok(Typed::int(false)),
        ValueKind::Sum | ValueKind::Min | ValueKind::Max => Ok(Typed::int(true)),
        ValueKind::Str(n) => Ok(Typed::of(Type::Str(n))),
        ValueKind::Named(FieldKind::ProbeName) => Ok(Typed::of(Type::ProbeName)),
        ValueKind::Bool => Ok(Typed::of(Type::Bool)),
        ValueKind::Tuple { .. } => match Type::of_fields(&def.value_fields) {
            Some(t) => Ok(Typed::of(t)),
            None => Err(CompileError::new(
                span,
                format!("map @{name}: malformed tuple value"),
            )),
        },
        other => Err(CompileError::new(
            span,
            format!(
                "map @{name} holds {} which cannot be read in a probe",
                describe_value(other)
            ),
        )),
    }
}
