package io.mvm.runtime.firecracker;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Objects;

/**
 * Every request this backend sends to Firecracker's API, as a value: verb-first names, the HTTP
 * method and path they map to, and a body record whose JSON field names are the API's own
 * (Firecracker 1.x swagger, {@code firecracker-api.yaml}). Keeping the set closed lets the spec
 * conformance test walk all of them.
 *
 * <p>These are wire types, package-private on purpose: nothing outside this package sees them.
 */
sealed interface FirecrackerCall {

    String method();

    String path();

    /** The JSON body, or null for calls without one. */
    Object body();

    /** Short text for logs and error messages, e.g. {@code PUT /drives/root}. */
    default String describe() {
        return method() + " " + path();
    }

    // ------------------------------------------------------------------ calls

    record DescribeInstance() implements FirecrackerCall {
        public String method() { return "GET"; }
        public String path() { return "/"; }
        public Object body() { return null; }
    }

    record GetVersion() implements FirecrackerCall {
        public String method() { return "GET"; }
        public String path() { return "/version"; }
        public Object body() { return null; }
    }

    record PutBootSource(BootSource body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/boot-source"; }
    }

    record PutMachineConfig(MachineConfiguration body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/machine-config"; }
    }

    record PutDrive(Drive body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/drives/" + body.driveId(); }
    }

    record PutNetworkInterface(NetworkInterface body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/network-interfaces/" + body.ifaceId(); }
    }

    record PutVsock(Vsock body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/vsock"; }
    }

    record StartInstance() implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/actions"; }
        public Object body() { return new InstanceActionInfo("InstanceStart"); }
    }

    record SendCtrlAltDel() implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/actions"; }
        public Object body() { return new InstanceActionInfo("SendCtrlAltDel"); }
    }

    record PauseVm() implements FirecrackerCall {
        public String method() { return "PATCH"; }
        public String path() { return "/vm"; }
        public Object body() { return new VmState("Paused"); }
    }

    record ResumeVm() implements FirecrackerCall {
        public String method() { return "PATCH"; }
        public String path() { return "/vm"; }
        public Object body() { return new VmState("Resumed"); }
    }

    record CreateSnapshot(SnapshotCreateParams body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/snapshot/create"; }
    }

    record LoadSnapshot(SnapshotLoadParams body) implements FirecrackerCall {
        public String method() { return "PUT"; }
        public String path() { return "/snapshot/load"; }
    }

    // ------------------------------------------------------------------ bodies (API field names)

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record BootSource(
            @JsonProperty("kernel_image_path") String kernelImagePath,
            @JsonProperty("initrd_path") String initrdPath,
            @JsonProperty("boot_args") String bootArgs) {
        public BootSource {
            Objects.requireNonNull(kernelImagePath, "kernel_image_path");
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record MachineConfiguration(
            @JsonProperty("vcpu_count") int vcpuCount,
            @JsonProperty("mem_size_mib") long memSizeMib,
            @JsonProperty("smt") Boolean smt,
            @JsonProperty("track_dirty_pages") Boolean trackDirtyPages) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Drive(
            @JsonProperty("drive_id") String driveId,
            @JsonProperty("path_on_host") String pathOnHost,
            @JsonProperty("is_root_device") boolean isRootDevice,
            @JsonProperty("is_read_only") boolean isReadOnly) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record NetworkInterface(
            @JsonProperty("iface_id") String ifaceId,
            @JsonProperty("host_dev_name") String hostDevName,
            @JsonProperty("guest_mac") String guestMac) {}

    record Vsock(@JsonProperty("guest_cid") long guestCid, @JsonProperty("uds_path") String udsPath) {}

    record InstanceActionInfo(@JsonProperty("action_type") String actionType) {}

    record VmState(@JsonProperty("state") String state) {}

    record SnapshotCreateParams(
            @JsonProperty("snapshot_type") String snapshotType,
            @JsonProperty("snapshot_path") String snapshotPath,
            @JsonProperty("mem_file_path") String memFilePath) {}

    record MemoryBackend(@JsonProperty("backend_type") String backendType, @JsonProperty("backend_path") String backendPath) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record SnapshotLoadParams(
            @JsonProperty("snapshot_path") String snapshotPath,
            @JsonProperty("mem_backend") MemoryBackend memBackend,
            @JsonProperty("resume_vm") Boolean resumeVm) {}
}
