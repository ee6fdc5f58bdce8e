"""The exceptions facemark raises (the native module raises these classes)."""


class FacemarkError(ValueError):
    """Bad input for facemark: an image, data set, model file or option it cannot use.

    The message is facemark's own: it names the file (and line or field) and what was
    expected. Subclass of ValueError.
    """


class FacemarkIOError(FacemarkError, OSError):
    """A file facemark could not open, read or write (missing, unreadable, no space).

    Subclass of both FacemarkError and OSError, so ``except OSError`` catches it too.
    """


# shown as facemark.FacemarkError in tracebacks, where users import it from
FacemarkError.__module__ = "facemark"
FacemarkIOError.__module__ = "facemark"
