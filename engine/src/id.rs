//! The shared accessors of the id newtypes (`ChannelId`, `InputIndex`, `SubtaskIndex`,
//! `SubtaskId`, `CheckpointId`, and `sim`'s `NodeId`), written once.

/// Writes a dense numeric id type's shared accessors once: `get` (the number, for compact
/// encodings and the rules that compute with it), `from_raw` (back from such a number, or an id a
/// test names), `Display` (prints the bare number, so outputs read as plain numbers did) and,
/// with `index`, `index` (the id's place in a table it numbers). The struct itself, with its
/// derives and doc comment, stays at its definition so that each id says what it numbers.
#[macro_export]
macro_rules! id_newtype {
    ($name:ident($raw:ty)) => {
        impl $name {
            /// The id as a number, for compact encodings (a trace event's words) and printing.
            pub const fn get(self) -> $raw {
                self.0
            }

            /// The id a compact encoding stored with [`Self::get`] (or a test names).
            pub const fn from_raw(raw: $raw) -> $name {
                $name(raw)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
    ($name:ident($raw:ty), index) => {
        $crate::id_newtype!($name($raw));

        impl $name {
            /// The id's place in the tables it numbers.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
