package protocol

// MemoryBucket holds the keys of memory data stores. Tasks of one run execute on different
// workers, so a store that lives "for the run" cannot live in one process: its keys live here
// under the run id and are purged when the run ends. The bucket's MaxAge is a safety net for
// runs whose end was never processed.
const MemoryBucket = "fleetbook_memory"
