//! [`TupleFn`]: calling a function of several arguments with a tuple, for
//! `starmap` (Python's `f(*args)`).

/// A function that can be called with its arguments packed in a tuple.
///
/// Implemented for every `Fn` of 1 to 12 arguments that can be shared across
/// worker threads; the argument tuple for one argument is `(A,)`.
///
/// # Examples
///
/// ```
/// use corepool::TupleFn;
///
/// let add = |a: i32, b: i32| a + b;
/// assert_eq!(add.call_with((2, 3)), 5);
/// ```
pub trait TupleFn<Args>: Send + Sync + 'static {
    /// What the function returns.
    type Output;

    /// Calls the function with the tuple's fields as its arguments.
    fn call_with(&self, args: Args) -> Self::Output;
}

/// A function of a worker's state and several arguments, called with the
/// arguments as one tuple: what [`StatefulPool::starmap`](crate::StatefulPool::starmap)
/// takes. Implemented for every `Fn(&mut S, A, B, ...) -> R` of 1 to 12
/// arguments after the state.
///
/// # Examples
///
/// ```
/// use corepool::StateTupleFn;
///
/// let add = |total: &mut i32, a: i32, b: i32| { *total += a + b; *total };
/// let mut total = 10;
/// assert_eq!(add.call_with_state(&mut total, (2, 3)), 15);
/// ```
pub trait StateTupleFn<S, Args>: Send + Sync + 'static {
    /// What the function returns.
    type Output;

    /// Calls the function with the state and the tuple's fields.
    fn call_with_state(&self, state: &mut S, args: Args) -> Self::Output;
}

macro_rules! impl_tuple_fn {
    ($($arg:ident: $ty:ident),+) => {
        impl<Func, Ret, $($ty),+> TupleFn<($($ty,)+)> for Func
        where
            Func: Fn($($ty),+) -> Ret + Send + Sync + 'static,
        {
            type Output = Ret;

            fn call_with(&self, ($($arg,)+): ($($ty,)+)) -> Ret {
                self($($arg),+)
            }
        }

        impl<State, Func, Ret, $($ty),+> StateTupleFn<State, ($($ty,)+)> for Func
        where
            Func: Fn(&mut State, $($ty),+) -> Ret + Send + Sync + 'static,
        {
            type Output = Ret;

            fn call_with_state(&self, state: &mut State, ($($arg,)+): ($($ty,)+)) -> Ret {
                self(state, $($arg),+)
            }
        }
    };
}

impl_tuple_fn!(a: A);
impl_tuple_fn!(a: A, b: B);
impl_tuple_fn!(a: A, b: B, c: C);
impl_tuple_fn!(a: A, b: B, c: C, d: D);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J, k: K);
impl_tuple_fn!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H, i: I, j: J, k: K, l: L);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_twelve_arguments() {
        let one = |a: u8| a + 1;
        assert_eq!(one.call_with((1,)), 2);
        let twelve =
            |a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: u8, k: u8, l: u8| {
                a + b + c + d + e + f + g + h + i + j + k + l
            };
        assert_eq!(twelve.call_with((1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)), 12);
    }
}
