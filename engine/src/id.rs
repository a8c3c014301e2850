//! The accessors the id newtypes share (`ChannelId`, `InputIndex`, `SubtaskIndex`, `SubtaskId`,
//! `CheckpointId`, and `sim`'s `NodeId`), written once by [`id_newtype!`](crate::id_newtype).

/// Writes a numeric id type's shared accessors: `get` (its number, for compact encodings and the
/// rules that compute with it) and `from_raw` (back from such a number, or an id a test names);
/// with `index`, `index` (the id's place in the tables it numbers); with `all`, `all(count)` (the
/// ids of a table of `count` entries, in order); with `display`, `Display`
/// printing the bare number (so outputs read as the plain numbers did). The struct, with its
/// derives and doc comment, stays where it is defined, so that each id says what it numbers.
///
/// ```
/// #[derive(Clone, Copy)]
/// pub struct Lane(u32);
/// engine::id_newtype!(Lane(u32), index, all, display);
/// assert_eq!((Lane::from_raw(3).index(), Lane::from_raw(3).to_string()), (3, "3".to_string()));
/// assert_eq!(Lane::all(4).rev().map(Lane::get).collect::<Vec<_>>(), [3, 2, 1, 0]);
/// ```
#[macro_export]
macro_rules! id_newtype {
    ($name:ident($raw:ty) $(, $option:ident)*) => {
        impl $name {
            /// The id as a number, for compact encodings (a trace event's words) and the rules
            /// that compute with it.
            pub const fn get(self) -> $raw {
                self.0
            }

            /// The id a compact encoding stored with [`Self::get`] (or a test names).
            pub const fn from_raw(raw: $raw) -> $name {
                $name(raw)
            }
        }
        $($crate::id_newtype!(@$option $name($raw));)*
    };
    (@index $name:ident($raw:ty)) => {
        impl $name {
            /// The id's place in the tables it numbers.
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
    (@all $name:ident($raw:ty)) => {
        impl $name {
            /// The ids of a table of `count` entries, in order (`count` is at most the number
            /// of things the plan made, which fit the id's number: `PhysicalPlan::expand` checks).
            pub fn all(count: usize) -> impl DoubleEndedIterator<Item = $name> + ExactSizeIterator {
                (0..count).map(|i| $name(i as $raw))
            }
        }
    };
    (@display $name:ident($raw:ty)) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}
