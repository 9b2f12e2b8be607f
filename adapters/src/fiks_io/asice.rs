//! The ASiC-E container (ETSI EN 319 162-1) Fiks IO carries: a ZIP whose first entry,
//! `mimetype`, stored, names the container type, then the documents, and
//! `META-INF/manifest.xml` listing each with its media type. Entries are stored (not
//! compressed): they are small, and encrypted next.

/// The container's media type, its `mimetype` entry.
pub const MIMETYPE: &str = "application/vnd.etsi.asic-e+zip";

/// A document in the container.
pub struct Document<'a> {
    pub name: &'a str,
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

/// The container of `documents`.
pub fn container(documents: &[Document]) -> Vec<u8> {
    let mut manifest = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">\n\
         <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.etsi.asic-e+zip\"/>\n",
    );
    for d in documents {
        manifest.push_str(&format!(
            "<manifest:file-entry manifest:full-path=\"{}\" manifest:media-type=\"{}\"/>\n",
            d.name, d.media_type
        ));
    }
    manifest.push_str("</manifest:manifest>\n");
    let mut zip = Zip::default();
    zip.add("mimetype", MIMETYPE.as_bytes());
    for d in documents {
        zip.add(d.name, d.bytes);
    }
    zip.add("META-INF/manifest.xml", manifest.as_bytes());
    zip.finish()
}

/// A ZIP of stored entries (APPNOTE 6.3), built in memory.
#[derive(Default)]
struct Zip {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

impl Zip {
    fn add(&mut self, name: &str, data: &[u8]) {
        let offset = self.bytes.len() as u32;
        let crc = CRC32.checksum(data);
        let size = data.len() as u32;
        // version needed, flags (UTF-8 names), method stored, time, date, crc, sizes, name.
        let common = |out: &mut Vec<u8>| {
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0x0800u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0x21u16.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        };
        self.bytes.extend_from_slice(&0x04034b50u32.to_le_bytes());
        common(&mut self.bytes);
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(data);
        self.central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        self.central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut self.central);
        // comment length, disk, internal and external attributes, offset.
        self.central.extend_from_slice(&[0; 10]);
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let offset = self.bytes.len() as u32;
        let size = self.central.len() as u32;
        self.bytes.append(&mut self.central);
        self.bytes.extend_from_slice(&0x06054b50u32.to_le_bytes());
        self.bytes.extend_from_slice(&[0; 4]);
        self.bytes.extend_from_slice(&self.entries.to_le_bytes());
        self.bytes.extend_from_slice(&self.entries.to_le_bytes());
        self.bytes.extend_from_slice(&size.to_le_bytes());
        self.bytes.extend_from_slice(&offset.to_le_bytes());
        self.bytes.extend_from_slice(&0u16.to_le_bytes());
        self.bytes
    }
}
