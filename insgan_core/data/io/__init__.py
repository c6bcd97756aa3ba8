"""File readers and writers (h5py): NXSPE, Mantid processed NeXus, npz."""
