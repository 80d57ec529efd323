//! `@m[k] = tseries(value, interval, num_intervals[, agg])`: the checks of
//! its arguments and the map's value kind.

use ustrace_lang::ast::{Expr, ExprKind, Span};

use super::Checker;
use crate::program::{TseriesAgg, ValueKind};
use crate::CompileError;

/// The most intervals one series keeps: each is a map entry per key and a
/// row of the graph.
pub(crate) const TSERIES_MAX_INTERVALS: i64 = 10_000;

const USAGE: &str =
    "tseries(value, interval, num_intervals[, \"avg\" | \"max\" | \"min\" | \"sum\"])";

impl Checker<'_> {
    /// Checks a `tseries()` assignment and fixes the map's layout.
    pub(crate) fn tseries(
        &mut self,
        name: &str,
        keys: &[Expr],
        args: &[Expr],
        span: Span,
    ) -> Result<(), CompileError> {
        let [value, interval, count, rest @ ..] = args else {
            return Err(arity(args.len(), span));
        };
        if rest.len() > 1 {
            return Err(arity(args.len(), span));
        }
        let v = self.expr(value)?;
        if !v.ty.is_numeric() {
            return Err(CompileError::new(
                value.span,
                format!("tseries() needs an integer value, not a {}", v.ty.name()),
            ));
        }
        let interval_ns = self.positive_constant(
            interval,
            "tseries()'s interval must be a constant: a duration such as 100ms, or nanoseconds",
            "tseries()'s interval must be greater than 0",
            i64::MAX,
        )?;
        let num_intervals = self.positive_constant(
            count,
            "tseries()'s num_intervals must be an integer constant",
            "tseries()'s num_intervals must be at least 1",
            TSERIES_MAX_INTERVALS,
        )?;
        let agg = match rest.first() {
            None => TseriesAgg::Last,
            Some(a) => aggregation(a)?,
        };
        let kind = ValueKind::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed: v.ty.is_signed(),
        };
        let key = self.key_fields(keys)?;
        self.define_map(name, &key, kind, &[], span)
    }

    /// The value of a constant argument in `1..=most`.
    fn positive_constant(
        &mut self,
        arg: &Expr,
        not_constant: &str,
        not_positive: &str,
        most: i64,
    ) -> Result<u64, CompileError> {
        let Some(v) = self.expr(arg)?.konst else {
            return Err(CompileError::new(arg.span, not_constant));
        };
        if v <= 0 {
            return Err(CompileError::new(
                arg.span,
                format!("{not_positive}, not {v}"),
            ));
        }
        if v > most {
            return Err(CompileError::new(
                arg.span,
                format!("{v} is too many: tseries() keeps at most {most} intervals"),
            ));
        }
        Ok(v as u64)
    }
}

/// The fourth argument: a string literal naming the aggregation.
fn aggregation(arg: &Expr) -> Result<TseriesAgg, CompileError> {
    let names = TseriesAgg::NAMES
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let ExprKind::String(s) = &arg.kind else {
        return Err(CompileError::new(
            arg.span,
            format!("tseries()'s aggregation must be a string literal: one of {names}"),
        ));
    };
    TseriesAgg::from_name(s).ok_or_else(|| {
        CompileError::new(
            arg.span,
            format!("unknown tseries() aggregation \"{s}\": use one of {names}"),
        )
    })
}

fn arity(given: usize, span: Span) -> CompileError {
    CompileError::new(
        span,
        format!("tseries() takes 3 or 4 arguments, {given} given: {USAGE}"),
    )
}
