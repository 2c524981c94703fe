//! Device drivers. The kernel owns every device: library operating systems
//! never touch device registers or DMA; they reach the network through the
//! bindings of `crate::net`.
//!
//! * [`mmio`], [`dma`], [`pci_function`], [`msix`]: register windows, memory
//!   shared with devices, a PCI function's BARs/capabilities, MSI-X.
//! * [`virtio`]: the virtio 1.x PCI transport and split virtqueues.
//! * [`virtio_net`]: the NIC.

pub mod dma;
pub mod mmio;
pub mod msix;
pub mod pci_function;
pub mod virtio;
pub mod virtio_net;
