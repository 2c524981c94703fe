//! Tokens of pcap-filter.
//!
//! Like libpcap's scanner, a *word* is a run of letters, digits and `_ . -`
//! (and `:` outside brackets, for Ethernet and IPv6 addresses) that starts
//! with a letter, digit or `:`; the parser decides whether a word is a
//! keyword, a number, an address or a port range. `\word` escapes a
//! keyword (`ether proto \ip`).

use super::error::{Error, ErrorKind, Span};
use alloc::vec::Vec;

/// Operators and punctuation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Punct {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Bang,
    AndAnd,
    OrOr,
}

/// One token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tok<'a> {
    Word(&'a str),
    /// `\word`: a keyword used as a name.
    Escaped(&'a str),
    Punct(Punct),
}

/// A token and its position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Token<'a> {
    pub tok: Tok<'a>,
    pub span: Span,
}

fn word_char(c: u8, in_brackets: bool) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-') || (c == b':' && !in_brackets)
}

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token<'_>>, Error> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut brackets = 0usize;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let starts_word = c.is_ascii_alphanumeric() || (c == b':' && brackets == 0);
        if starts_word || (c == b'\\' && b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric())) {
            let escaped = c == b'\\';
            if escaped {
                i += 1;
            }
            let ws = i;
            while i < b.len() && word_char(b[i], brackets > 0) {
                i += 1;
            }
            // A trailing '-' or '.' is not part of a word (`len-` then `1`).
            while i > ws + 1 && matches!(b[i - 1], b'-' | b'.') {
                i -= 1;
            }
            let w = &src[ws..i];
            out.push(Token {
                tok: if escaped {
                    Tok::Escaped(w)
                } else {
                    Tok::Word(w)
                },
                span: Span::new(start, i),
            });
            continue;
        }
        let two = |a: u8, p: Punct| (b.get(i + 1) == Some(&a)).then_some(p);
        let (p, n) = match c {
            b'(' => (Punct::LParen, 1),
            b')' => (Punct::RParen, 1),
            b'[' => {
                brackets += 1;
                (Punct::LBracket, 1)
            }
            b']' => {
                brackets = brackets.saturating_sub(1);
                (Punct::RBracket, 1)
            }
            b':' => (Punct::Colon, 1),
            b'+' => (Punct::Plus, 1),
            b'-' => (Punct::Minus, 1),
            b'*' => (Punct::Star, 1),
            b'/' => (Punct::Slash, 1),
            b'%' => (Punct::Percent, 1),
            b'^' => (Punct::Caret, 1),
            b'&' => two(b'&', Punct::AndAnd).map_or((Punct::Amp, 1), |p| (p, 2)),
            b'|' => two(b'|', Punct::OrOr).map_or((Punct::Pipe, 1), |p| (p, 2)),
            b'=' => two(b'=', Punct::Eq).map_or((Punct::Eq, 1), |p| (p, 2)),
            b'!' => two(b'=', Punct::Ne).map_or((Punct::Bang, 1), |p| (p, 2)),
            b'<' => match b.get(i + 1) {
                Some(b'<') => (Punct::Shl, 2),
                Some(b'=') => (Punct::Le, 2),
                _ => (Punct::Lt, 1),
            },
            b'>' => match b.get(i + 1) {
                Some(b'>') => (Punct::Shr, 2),
                Some(b'=') => (Punct::Ge, 2),
                _ => (Punct::Gt, 1),
            },
            _ => {
                let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
                return Err(Error::new(
                    ErrorKind::UnexpectedChar(ch),
                    Span::new(i, i + ch.len_utf8()),
                ));
            }
        };
        i += n;
        out.push(Token {
            tok: Tok::Punct(p),
            span: Span::new(start, i),
        });
    }
    Ok(out)
}
