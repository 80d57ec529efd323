//! The hidden macros behind `probe!`, `probe_guarded!` and `enabled!`: the
//! shared semaphore of a `provider:name` and the `asm!` block of a site.

/// Implementation of [`enabled!`](crate::enabled!) and [`probe_guarded!`](crate::probe_guarded!): the semaphore
/// of `provider:name` (see "The shared semaphore" in the crate
/// documentation).
///
/// * `@symbol p n`: its symbol, quoted for the assembler (a raw or
///   non-ASCII identifier is then a valid name too).
/// * `@page`: the assembler lines that make `.probes` start on a page, once
///   per object.
/// * `@define p n`: the assembler lines that define it once per object
///   (and `@page`).
/// * `@note p n`: the definition and the note's semaphore word.
/// * `@read p n`: an expression reading its count, as a `u32`.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __usdt_semaphore {
    (@symbol $provider:ident $name:ident) => {
        ::core::concat!(
            "\"__ustrace_usdt_sem.",
            ::core::stringify!($provider),
            ".",
            ::core::stringify!($name),
            "\""
        )
    };
    (@page) => {
        ::core::concat!(
            ".ifndef __ustrace_usdt_probes_page\n",
            ".pushsection .probes,\"awGR\",\"progbits\",__ustrace_usdt_probes_page,comdat\n",
            ".weak __ustrace_usdt_probes_page\n",
            ".hidden __ustrace_usdt_probes_page\n",
            ".balign 4096\n",
            "__ustrace_usdt_probes_page:\n",
            ".popsection\n",
            ".endif"
        )
    };
    (@define $provider:ident $name:ident) => {
        ::core::concat!(
            $crate::__usdt_semaphore!(@page), "\n",
            ".ifndef ", $crate::__usdt_semaphore!(@symbol $provider $name), "\n",
            ".pushsection .probes,\"awG\",\"progbits\",",
            $crate::__usdt_semaphore!(@symbol $provider $name), ",comdat\n",
            ".weak ", $crate::__usdt_semaphore!(@symbol $provider $name), "\n",
            ".hidden ", $crate::__usdt_semaphore!(@symbol $provider $name), "\n",
            ".type ", $crate::__usdt_semaphore!(@symbol $provider $name), ", @object\n",
            ".size ", $crate::__usdt_semaphore!(@symbol $provider $name), ", 2\n",
            ".balign 2\n",
            $crate::__usdt_semaphore!(@symbol $provider $name), ": .2byte 0\n",
            ".popsection\n",
            ".endif"
        )
    };
    (@note $provider:ident $name:ident) => {
        ::core::concat!(
            $crate::__usdt_semaphore!(@define $provider $name), "\n",
            ".8byte ", $crate::__usdt_semaphore!(@symbol $provider $name)
        )
    };
    (@read $provider:ident $name:ident) => {{
        let __ustrace_usdt_count: u32;
        // SAFETY: defines the two-byte semaphore (in a data section) and
        // loads it into one output register; no stack, no flags.
        unsafe {
            ::core::arch::asm!(
                $crate::__usdt_semaphore!(@define $provider $name),
                ::core::concat!(
                    "movzwl ",
                    $crate::__usdt_semaphore!(@symbol $provider $name),
                    "(%rip), {count:e}"
                ),
                count = out(reg) __ustrace_usdt_count,
                options(att_syntax, readonly, nostack, preserves_flags),
            );
        }
        __ustrace_usdt_count
    }};
}

/// Implementation of [`enabled!`](crate::enabled!) and [`probe_guarded!`](crate::probe_guarded!): on this target,
/// no semaphore (the count is always 0).
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __usdt_semaphore {
    (@note $provider:ident $name:ident) => {
        ""
    };
    (@read $provider:ident $name:ident) => {
        0u32
    };
}

/// Implementation of [`probe!`](crate::probe!) and [`probe_guarded!`](crate::probe_guarded!): pairs each argument
/// with a generic type name, a value operand name and a size operand name,
/// then emits the site.
///
/// `@start [SEMAPHORE-LINE, OPERANDS...] provider name [args,]`: the
/// semaphore line is the template string (a literal or a macro call giving
/// one) for the note's semaphore word, and the operands are the `asm!`
/// operands it uses.
#[doc(hidden)]
#[macro_export]
macro_rules! __usdt_site {
    (@start $sem:tt $provider:ident $name:ident [$($arg:expr,)*]) => {
        $crate::__usdt_site!(
            @pair $sem $provider $name [] [$($arg,)*]
            [
                (A0 v0 s0) (A1 v1 s1) (A2 v2 s2) (A3 v3 s3)
                (A4 v4 s4) (A5 v5 s5) (A6 v6 s6) (A7 v7 s7)
                (A8 v8 s8) (A9 v9 s9) (A10 v10 s10) (A11 v11 s11)
            ]
        )
    };
    // The first argument: no blank before its spec.
    (@pair $sem:tt $provider:ident $name:ident []
        [$arg:expr, $($rest:expr,)*] [($T:ident $v:ident $s:ident) $($names:tt)*]) => {
        $crate::__usdt_site!(
            @pair $sem $provider $name [($T $v $s [$arg] "")] [$($rest,)*] [$($names)*]
        )
    };
    // The following ones: a blank before.
    (@pair $sem:tt $provider:ident $name:ident [$($acc:tt)+]
        [$arg:expr, $($rest:expr,)*] [($T:ident $v:ident $s:ident) $($names:tt)*]) => {
        $crate::__usdt_site!(
            @pair $sem $provider $name [$($acc)+ ($T $v $s [$arg] " ")] [$($rest,)*] [$($names)*]
        )
    };
    (@pair $sem:tt $provider:ident $name:ident [$($acc:tt)*]
        [$arg:expr, $($rest:expr,)*] []) => {
        ::core::compile_error!("a USDT probe takes at most 12 arguments")
    };
    (@pair $sem:tt $provider:ident $name:ident
        [$(($T:ident $v:ident $s:ident [$arg:expr] $sep:literal))*] [] [$($names:tt)*]) => {
        $crate::__usdt_emit!($sem $provider $name [$(($T $v $s [$arg] $sep))*])
    };
}

/// Emits one probe site: a generic `#[inline(always)]` function holding the
/// `asm!` block, called with the arguments.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __usdt_emit {
    ([$semline:expr, $($semop:tt)*] $provider:ident $name:ident
        [$(($T:ident $v:ident $s:ident [$arg:expr] $sep:literal))*]) => {{
        #[inline(always)]
        #[allow(non_snake_case, clippy::too_many_arguments)]
        fn __ustrace_usdt_site<$($T: $crate::ProbeArg),*>($($v: $T),*) {
            // SAFETY: the block only emits a `nop` and data into
            // non-executed sections; it reads the input registers, writes
            // nothing and keeps the stack and flags intact.
            unsafe {
                ::core::arch::asm!(
                    // The probe instruction.
                    "990: nop",
                    // A 10-byte nop right after, as the upstream USDT header
                    // emits it: tools attach at the 1-byte nop today; a
                    // kernel that optimizes uprobes safely can use this one.
                    ".byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00",
                    // The note (see the crate documentation for the layout).
                    ".pushsection .note.stapsdt,\"?\",\"note\"",
                    ".balign 4",
                    ".4byte 992f-991f, 994f-993f, 3",
                    "991: .asciz \"stapsdt\"",
                    "992: .balign 4",
                    "993: .8byte 990b",
                    ".8byte _.stapsdt.base",
                    $semline,
                    ::core::concat!(".asciz \"", ::core::stringify!($provider), "\""),
                    ::core::concat!(".asciz \"", ::core::stringify!($name), "\""),
                    $(::core::concat!(
                        ".ascii \"", $sep,
                        "{", ::core::stringify!($s), "}@{", ::core::stringify!($v), "}\""
                    ),)*
                    ".byte 0",
                    "994: .balign 4",
                    ".popsection",
                    // Keeps the code around the nop alive under --gc-sections.
                    ".pushsection .rodata.ustrace_usdt_anchor,\"aR?\",\"progbits\"",
                    ".balign 4",
                    ".4byte 990b - .",
                    ".popsection",
                    // `.stapsdt.base`, once per object.
                    ".ifndef _.stapsdt.base",
                    ".pushsection .stapsdt.base,\"aGR\",\"progbits\",.stapsdt.base,comdat",
                    ".weak _.stapsdt.base",
                    ".hidden _.stapsdt.base",
                    "_.stapsdt.base: .space 1",
                    ".size _.stapsdt.base, 1",
                    ".popsection",
                    ".endif",
                    $($v = in(reg) $crate::ProbeArg::into_probe_value($v),)*
                    $($s = const $crate::__size_spec::<$T>(),)*
                    $($semop)*
                    options(att_syntax, readonly, nostack, preserves_flags),
                );
            }
        }
        __ustrace_usdt_site($($arg),*)
    }};
}

/// Emits one probe site: on this target, nothing (the arguments are
/// type-checked, not evaluated).
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __usdt_emit {
    ([$semline:expr, $($semop:tt)*] $provider:ident $name:ident
        [$(($T:ident $v:ident $s:ident [$arg:expr] $sep:literal))*]) => {{
        #[allow(unreachable_code, clippy::diverging_sub_expression)]
        if false {
            $(let _ = $crate::ProbeArg::into_probe_value($arg);)*
        }
    }};
}
