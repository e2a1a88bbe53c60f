"""lib/: the kernel's library routines the model needs (vsscanf for the pre-4.16 map_files names).

Linux: lib/
"""
