//! Plans: drawings of a project (PDF or image) that defects are pinned on. Uploaded
//! through the attachments' pipeline (`defects::files`: content sniffing, image limits,
//! generated storage keys). Managers and admins manage them (`projects::policy`).
//!
//! The preview the pins' x/y refer to: for an image, the image itself (its `width` and
//! `height` are stored); for a PDF, the file as uploaded, shown by the client (first
//! page). No PDF rasteriser is in the dependency set: the ones that exist need a native
//! library (pdfium, MuPDF) that a site machine without internet cannot download, so a
//! PDF plan has no server-made raster and no width/height.
pub mod service;
