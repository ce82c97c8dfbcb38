//! API coverage through the api-job guest (filled in once its scenarios exist).
