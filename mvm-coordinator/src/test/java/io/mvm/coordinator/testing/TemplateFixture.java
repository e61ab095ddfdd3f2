package io.mvm.coordinator.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Registers templates and revisions through the API as a build host does: the template file, then
 * every artifact by digest, then the revision record. The artifacts are small made-up files (the
 * coordinator never looks inside them).
 */
public final class TemplateFixture {
    private TemplateFixture() {}

    public static String toml(String templateId, String role) {
        return "template_id = \"" + templateId + "\"\n[source.oci]\nlayout = \"img\"\n\n[[variants]]\nrole = \""
                + role + "\"\nvcpus = 1\nmem_mib = 256\n";
    }

    /** Creates {@code <templateId>-worker} from a one-variant file. */
    public static void create(ApiClient admin, String templateId) {
        ApiClient.Response r = admin.post("/v1/templates", Map.of("config", toml(templateId, "worker"),
                "config_dir", "/srv/templates", "file_name", templateId + ".toml"));
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Files of a made-up revision: role → bytes. */
    public static Map<String, byte[]> files(String seed) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (String role : List.of("kernel", "initramfs", "rootfs")) {
            out.put(role, (role + " of " + seed + " ").repeat(1000).getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    /** A schema-2 revision record naming {@code files}. */
    public static Map<String, Object> record(String name, String revisionHash, Map<String, byte[]> files) {
        List<Map<String, Object>> artifacts = new ArrayList<>();
        Map<String, String> paths = Map.of("kernel", "vmlinuz", "initramfs", "initramfs.cpio.gz", "rootfs", "rootfs.ext4");
        files.forEach((role, bytes) -> artifacts.add(Map.of("role", role, "path", paths.getOrDefault(role, role),
                "size", bytes.length, "sha256", sha256(bytes))));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("schema_version", 2);
        r.put("revision_hash", revisionHash);
        r.put("template_id", name);
        r.put("source", Map.of("kind", "oci", "reference", "img", "lock_hash", "sha256:" + "0".repeat(64)));
        r.put("cache_key", "1".repeat(64));
        r.put("builder_recipe", "test");
        r.put("artifacts", artifacts);
        r.put("kernel_version", "6.1.0-test");
        r.put("boot_args", "console=ttyS0");
        r.put("built_at", "2026-12-03T12:00:00Z");
        r.put("profile", "minimal");
        r.put("role", "worker");
        r.put("vcpus", 1);
        r.put("mem_mib", 256);
        r.put("data_disk_mib", 0);
        return r;
    }

    /** Uploads {@code files} and registers them as revision {@code seed}'s hash of {@code name}; returns the hash. */
    public static String build(ApiClient admin, String name, String seed) {
        Map<String, byte[]> files = files(seed);
        for (byte[] bytes : files.values()) {
            ApiClient.RawResponse put = admin.raw("PUT", "/v1/artifacts/sha256:" + sha256(bytes), bytes, Map.of());
            assertThat(put.status()).as(new String(put.body(), StandardCharsets.UTF_8)).isEqualTo(201);
        }
        String hash = sha256(seed.getBytes(StandardCharsets.UTF_8));
        ApiClient.Response r = admin.post("/v1/templates/" + name + "/revisions", record(name, hash, files));
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return hash;
    }
}
