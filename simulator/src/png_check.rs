//! Logo image checks applied at finalisation: size, type, dimensions, transparency.

use std::io::Cursor;

/// Largest accepted logo, in bytes.
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;

/// Which slot a logo fills; favicons have stricter dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoKind {
    /// A logo (`white` or `colored`): 1–300 px each side.
    Logo,
    /// A favicon: square, 16–32 px.
    Favicon,
}

/// A failed property, named as the service reports it in `invalidProperty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidProperty {
    /// Larger than 1 MB.
    ExceedsSize,
    /// Not a decodable PNG.
    Type,
    /// Width/height outside the allowed range.
    Dimensions,
    /// No transparent pixel.
    TransparentBg,
}

impl InvalidProperty {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExceedsSize => "exceeds_size",
            Self::Type => "type",
            Self::Dimensions => "dimensions",
            Self::TransparentBg => "transparent_bg",
        }
    }
}

/// Every property `bytes` violates for a logo of `kind`; empty when acceptable.
pub fn check_logo(bytes: &[u8], kind: LogoKind) -> Vec<InvalidProperty> {
    let mut problems = Vec::new();
    if bytes.len() > MAX_LOGO_BYTES {
        problems.push(InvalidProperty::ExceedsSize);
    }
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = match decoder.read_info() {
        Ok(reader) => reader,
        Err(_) => {
            problems.push(InvalidProperty::Type);
            return problems;
        }
    };
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if !dimensions_ok(width, height, kind) {
        problems.push(InvalidProperty::Dimensions);
        return problems;
    }
    let Some(size) = reader.output_buffer_size() else {
        problems.push(InvalidProperty::Type);
        return problems;
    };
    let mut buffer = vec![0u8; size];
    let frame = match reader.next_frame(&mut buffer) {
        Ok(frame) => frame,
        Err(_) => {
            problems.push(InvalidProperty::Type);
            return problems;
        }
    };
    let pixels = &buffer[..frame.buffer_size()];
    if !has_transparent_pixel(pixels, frame.color_type) {
        problems.push(InvalidProperty::TransparentBg);
    }
    problems
}

fn dimensions_ok(width: u32, height: u32, kind: LogoKind) -> bool {
    match kind {
        LogoKind::Logo => (1..=300).contains(&width) && (1..=300).contains(&height),
        LogoKind::Favicon => width == height && (16..=32).contains(&width),
    }
}

/// Whether any pixel is fully transparent, for 8-bit expanded output.
fn has_transparent_pixel(pixels: &[u8], color: png::ColorType) -> bool {
    let (channels, alpha) = match color {
        png::ColorType::Rgba => (4, 3),
        png::ColorType::GrayscaleAlpha => (2, 1),
        _ => return false,
    };
    pixels.chunks_exact(channels).any(|px| px[alpha] == 0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes an RGBA PNG of the given size; `transparent` clears the first pixel's alpha.
    pub(crate) fn rgba_png(width: u32, height: u32, transparent: bool) -> Vec<u8> {
        let mut data = vec![255u8; (width * height * 4) as usize];
        if transparent && !data.is_empty() {
            data[3] = 0;
        }
        encode(width, height, png::ColorType::Rgba, &data, None)
    }

    fn encode(
        width: u32,
        height: u32,
        color: png::ColorType,
        data: &[u8],
        trns: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(png::BitDepth::Eight);
            if let Some(trns) = trns {
                encoder.set_trns(trns.to_vec());
            }
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(data).unwrap();
        }
        out
    }

    #[test]
    fn accepts_transparent_logo_and_favicon() {
        assert!(check_logo(&rgba_png(300, 40, true), LogoKind::Logo).is_empty());
        assert!(check_logo(&rgba_png(1, 1, true), LogoKind::Logo).is_empty());
        assert!(check_logo(&rgba_png(16, 16, true), LogoKind::Favicon).is_empty());
        assert!(check_logo(&rgba_png(32, 32, true), LogoKind::Favicon).is_empty());
    }

    #[test]
    fn rejects_bad_dimensions() {
        assert_eq!(
            check_logo(&rgba_png(301, 10, true), LogoKind::Logo),
            vec![InvalidProperty::Dimensions]
        );
        assert_eq!(
            check_logo(&rgba_png(16, 17, true), LogoKind::Favicon),
            vec![InvalidProperty::Dimensions]
        );
        assert_eq!(
            check_logo(&rgba_png(33, 33, true), LogoKind::Favicon),
            vec![InvalidProperty::Dimensions]
        );
        assert_eq!(
            check_logo(&rgba_png(8, 8, true), LogoKind::Favicon),
            vec![InvalidProperty::Dimensions]
        );
    }

    #[test]
    fn rejects_opaque_and_non_png() {
        assert_eq!(
            check_logo(&rgba_png(10, 10, false), LogoKind::Logo),
            vec![InvalidProperty::TransparentBg]
        );
        let rgb = encode(4, 4, png::ColorType::Rgb, &[0u8; 48], None);
        assert_eq!(
            check_logo(&rgb, LogoKind::Logo),
            vec![InvalidProperty::TransparentBg]
        );
        assert_eq!(
            check_logo(b"GIF89a....", LogoKind::Logo),
            vec![InvalidProperty::Type]
        );
        assert_eq!(check_logo(&[], LogoKind::Logo), vec![InvalidProperty::Type]);
    }

    #[test]
    fn trns_chunk_counts_as_transparency() {
        // Palette image whose entry 0 is fully transparent.
        let palette_png = {
            let mut out = Vec::new();
            {
                let mut encoder = png::Encoder::new(&mut out, 2, 2);
                encoder.set_color(png::ColorType::Indexed);
                encoder.set_depth(png::BitDepth::Eight);
                encoder.set_palette(vec![0, 0, 0, 255, 255, 255]);
                encoder.set_trns(vec![0u8]);
                let mut writer = encoder.write_header().unwrap();
                writer.write_image_data(&[0, 1, 1, 1]).unwrap();
            }
            out
        };
        assert!(check_logo(&palette_png, LogoKind::Logo).is_empty());
        // RGB with a tRNS colour key matching black pixels.
        let keyed = encode(
            2,
            1,
            png::ColorType::Rgb,
            &[0, 0, 0, 9, 9, 9],
            Some(&[0, 0, 0, 0, 0, 0]),
        );
        assert!(check_logo(&keyed, LogoKind::Logo).is_empty());
    }

    #[test]
    fn reports_oversize_alongside_other_problems() {
        let mut big = rgba_png(10, 10, true);
        big.resize(MAX_LOGO_BYTES + 1, 0);
        let problems = check_logo(&big, LogoKind::Logo);
        assert_eq!(problems.first(), Some(&InvalidProperty::ExceedsSize));
    }
}
