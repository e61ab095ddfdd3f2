package io.mvm.runtime.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** An asynchronous QMP event such as STOP, RESUME, SHUTDOWN or MIGRATION. */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {}
