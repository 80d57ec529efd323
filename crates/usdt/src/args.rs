//! How a Rust value becomes a probe argument: one 64-bit register and a
//! signed or unsigned size in the note.

/// A value that can be passed as a probe argument.
///
/// Every argument travels as one 64-bit register. The implementations for
/// the integer types sign-extend (signed) or zero-extend (unsigned) the value;
/// `bool` gives 0 or 1; `char` its code point; pointers and references give
/// their address (the tracer reads the memory it points to, e.g. with
/// bpftrace's `str(arg0)`), never the value behind them.
///
/// Implement it for your own types to pass them directly, e.g. a newtype
/// around an integer.
pub trait ProbeArg {
    /// Whether the value is signed: the spec in the note is then `-8@%reg`
    /// instead of `8@%reg`, and tracers sign-extend it.
    const SIGNED: bool;

    /// The 64-bit value placed in the register at the probe.
    fn into_probe_value(self) -> u64;
}

macro_rules! impl_signed {
    ($($t:ty),*) => {$(
        impl ProbeArg for $t {
            const SIGNED: bool = true;
            #[inline(always)]
            fn into_probe_value(self) -> u64 {
                // Sign-extends to 64 bits.
                self as i64 as u64
            }
        }
    )*};
}

macro_rules! impl_unsigned {
    ($($t:ty),*) => {$(
        impl ProbeArg for $t {
            const SIGNED: bool = false;
            #[inline(always)]
            fn into_probe_value(self) -> u64 {
                self as u64
            }
        }
    )*};
}

impl_signed!(i8, i16, i32, i64, isize);
impl_unsigned!(u8, u16, u32, u64, usize);

impl ProbeArg for bool {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        u64::from(self)
    }
}

impl ProbeArg for char {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        u64::from(u32::from(self))
    }
}

impl<T: ?Sized> ProbeArg for *const T {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        // The tracer may read the memory: expose the provenance.
        self.expose_provenance() as u64
    }
}

impl<T: ?Sized> ProbeArg for *mut T {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        self.expose_provenance() as u64
    }
}

impl<T: ?Sized> ProbeArg for core::ptr::NonNull<T> {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        self.as_ptr().into_probe_value()
    }
}

impl<T: ?Sized> ProbeArg for &T {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        (self as *const T).into_probe_value()
    }
}

impl<T: ?Sized> ProbeArg for &mut T {
    const SIGNED: bool = false;
    #[inline(always)]
    fn into_probe_value(self) -> u64 {
        (self as *const T).into_probe_value()
    }
}

/// The `SIZE` of an argument of type `T` in the note: `-8` when signed, `8`
/// otherwise. Used by the macros as an `asm!` `const` operand.
#[doc(hidden)]
pub const fn __size_spec<T: ProbeArg>() -> i32 {
    if T::SIGNED {
        -8
    } else {
        8
    }
}
