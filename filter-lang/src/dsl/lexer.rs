//! Tokens of the handler language.
//!
//! Comments run from `#` or `//` to the end of the line. Line ends are
//! tokens (they end statements). Numbers are decimal, `0x` hex or `0b`
//! binary with optional `_` separators, IPv4 addresses `a.b.c.d` (a 32-bit
//! number) or MAC addresses `aa:bb:cc:dd:ee:ff` (a 48-bit number). Strings
//! are `"..."` on one line, without escapes (a backslash is itself).

use super::error::{Error, ErrorKind, Span};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Operators and punctuation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Punct {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Dot,
    DotDot,
    Assign,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
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
    AndAnd,
    OrOr,
    Bang,
    PlusAssign,
    MinusAssign,
    AmpAssign,
    PipeAssign,
    CaretAssign,
}

impl Punct {
    pub fn text(self) -> &'static str {
        use Punct::*;
        match self {
            LBrace => "{",
            RBrace => "}",
            LParen => "(",
            RParen => ")",
            LBracket => "[",
            RBracket => "]",
            Comma => ",",
            Semi => ";",
            Colon => ":",
            Dot => ".",
            DotDot => "..",
            Assign => "=",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            Percent => "%",
            Amp => "&",
            Pipe => "|",
            Caret => "^",
            Shl => "<<",
            Shr => ">>",
            AndAnd => "&&",
            OrOr => "||",
            Bang => "!",
            PlusAssign => "+=",
            MinusAssign => "-=",
            AmpAssign => "&=",
            PipeAssign => "|=",
            CaretAssign => "^=",
        }
    }
}

/// One token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Tok {
    Ident(String),
    Num(u64),
    Str(String),
    Punct(Punct),
    Newline,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => alloc::format!("`{s}`"),
            Tok::Num(n) => alloc::format!("the number {n}"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Punct(p) => alloc::format!("`{}`", p.text()),
            Tok::Newline => "the end of the line".to_string(),
        }
    }
}

/// A token and where it is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Splits `src` into tokens.
pub fn lex(src: &str) -> Result<Vec<Token>, Error> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                out.push(Token {
                    tok: Tok::Newline,
                    span: Span::new(i, i + 1),
                });
                i += 1;
            }
            b'#' => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'"' => {
                let end = line_end(b, i + 1);
                match src[i + 1..end].find('"') {
                    Some(n) => {
                        out.push(Token {
                            tok: Tok::Str(src[i + 1..i + 1 + n].to_string()),
                            span: Span::new(i, i + n + 2),
                        });
                        i += n + 2;
                    }
                    None => {
                        return Err(Error::new(ErrorKind::UnterminatedString, Span::new(i, end)));
                    }
                }
            }
            _ if mac_len(b, i).is_some() => {
                let n = mac_len(b, i).unwrap_or(0);
                let text = &src[i..i + n];
                let mut v = 0u64;
                for g in text.split(':') {
                    v = (v << 8) | u64::from_str_radix(g, 16).unwrap_or(0);
                }
                out.push(Token {
                    tok: Tok::Num(v),
                    span: Span::new(i, i + n),
                });
                i += n;
            }
            b'0'..=b'9' => {
                let (tok, n) = number(src, i)?;
                out.push(Token {
                    tok,
                    span: Span::new(i, i + n),
                });
                i += n;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(src[start..i].to_string()),
                    span: Span::new(start, i),
                });
            }
            _ => {
                let (p, n) = punct(b, i).ok_or_else(|| {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    Error::new(
                        ErrorKind::UnexpectedChar(ch),
                        Span::new(i, i + ch.len_utf8()),
                    )
                })?;
                out.push(Token {
                    tok: Tok::Punct(p),
                    span: Span::new(i, i + n),
                });
                i += n;
            }
        }
    }
    Ok(out)
}

fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// Length of a MAC address `h[h]:h[h]:...` (six groups) starting at `i`.
fn mac_len(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for g in 0..6 {
        if g > 0 {
            if b.get(j) != Some(&b':') {
                return None;
            }
            j += 1;
        }
        let s = j;
        while j < b.len() && j - s < 2 && b[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j == s {
            return None;
        }
    }
    let next = b.get(j).copied().unwrap_or(b' ');
    if next.is_ascii_alphanumeric() || next == b'_' || next == b':' {
        return None;
    }
    Some(j - i)
}

/// A number token at `i`: decimal, hex, binary, or a dotted IPv4 address.
fn number(src: &str, i: usize) -> Result<(Tok, usize), Error> {
    let b = src.as_bytes();
    let word_end = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut j = word_end(i);
    // IPv4: four decimal groups joined by single dots.
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(|c| c.is_ascii_digit()) {
        let mut groups = 1;
        while groups < 4 && b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit)
        {
            j = word_end(j + 1);
            groups += 1;
        }
        let text = &src[i..j];
        let bad = || Error::new(ErrorKind::BadNumber(text.to_string()), Span::new(i, j));
        if groups != 4 || b.get(j) == Some(&b'.') {
            return Err(bad());
        }
        let mut v = 0u64;
        for g in text.split('.') {
            if g.is_empty() || g.len() > 3 || !g.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u64 = g.parse().map_err(|_| bad())?;
            if n > 255 {
                return Err(bad());
            }
            v = (v << 8) | n;
        }
        return Ok((Tok::Num(v), j - i));
    }
    let text = &src[i..j];
    let bad = || Error::new(ErrorKind::BadNumber(text.to_string()), Span::new(i, j));
    let (digits, radix) = match text.get(..2) {
        Some("0x") | Some("0X") => (&text[2..], 16),
        Some("0b") | Some("0B") => (&text[2..], 2),
        _ => (text, 10),
    };
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || digits.starts_with('_') {
        return Err(bad());
    }
    let v = u64::from_str_radix(&clean, radix).map_err(|_| bad())?;
    Ok((Tok::Num(v), j - i))
}

fn punct(b: &[u8], i: usize) -> Option<(Punct, usize)> {
    use Punct::*;
    let two = [b[i], b.get(i + 1).copied().unwrap_or(0)];
    let p2 = match &two {
        b".." => Some(DotDot),
        b"==" => Some(Eq),
        b"!=" => Some(Ne),
        b"<=" => Some(Le),
        b">=" => Some(Ge),
        b"<<" => Some(Shl),
        b">>" => Some(Shr),
        b"&&" => Some(AndAnd),
        b"||" => Some(OrOr),
        b"+=" => Some(PlusAssign),
        b"-=" => Some(MinusAssign),
        b"&=" => Some(AmpAssign),
        b"|=" => Some(PipeAssign),
        b"^=" => Some(CaretAssign),
        _ => None,
    };
    if let Some(p) = p2 {
        return Some((p, 2));
    }
    let p = match b[i] {
        b'{' => LBrace,
        b'}' => RBrace,
        b'(' => LParen,
        b')' => RParen,
        b'[' => LBracket,
        b']' => RBracket,
        b',' => Comma,
        b';' => Semi,
        b':' => Colon,
        b'.' => Dot,
        b'=' => Assign,
        b'<' => Lt,
        b'>' => Gt,
        b'+' => Plus,
        b'-' => Minus,
        b'*' => Star,
        b'/' => Slash,
        b'%' => Percent,
        b'&' => Amp,
        b'|' => Pipe,
        b'^' => Caret,
        b'!' => Bang,
        _ => return None,
    };
    Some((p, 1))
}
