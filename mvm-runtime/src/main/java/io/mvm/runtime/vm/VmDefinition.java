package io.mvm.runtime.vm;

import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.image.GuestImage;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A VM's spec as stored in {@code spec.json}, so {@code start} and {@code wake} can relaunch it
 * with identical devices. Secret values are not in here (they live in {@code secrets.json}, mode
 * 0600); only their names are.
 */
public record VmDefinition(
        int schemaVersion,
        String name,
        int vcpus,
        long memoryMib,
        GuestImage image,
        Long dataDiskMib,
        Integer configVersion,
        Map<String, String> configFilesBase64,
        String cmd,
        Map<String, String> env,
        NicSpec nic,
        List<String> secretNames,
        Boolean secretsDrive) {

    public static final int SCHEMA_VERSION = 1;

    public static VmDefinition of(VmSpec spec) {
        var config = spec.drive(DriveSpec.Config.class);
        Map<String, String> files = new TreeMap<>();
        config.ifPresent(c -> c.files().forEach((k, v) -> files.put(k, Base64.getEncoder().encodeToString(v))));
        return new VmDefinition(SCHEMA_VERSION, spec.name().value(), spec.vcpus(), spec.memoryMib(), spec.image(),
                spec.drive(DriveSpec.Data.class).map(DriveSpec.Data::sizeMib).orElse(null),
                config.map(DriveSpec.Config::version).orElse(null), files, spec.cmd(), new TreeMap<>(spec.env()),
                spec.nic().orElse(null),
                spec.drive(DriveSpec.Secrets.class).map(s -> List.copyOf(new TreeMap<>(s.entries()).keySet())).orElse(List.of()),
                spec.drive(DriveSpec.Secrets.class).isPresent());
    }

    /** Rebuilds (and so re-validates) the spec, with the given secret values. */
    public VmSpec toSpec(Map<String, String> secrets) {
        VmSpec.Builder b = VmSpec.builder(name, image).vcpus(vcpus).memoryMib(memoryMib).cmd(cmd)
                .env(env == null ? Map.of() : env);
        Optional.ofNullable(nic).ifPresent(b::nic);
        if (dataDiskMib != null) {
            b.drive(new DriveSpec.Data(dataDiskMib));
        }
        // An empty secrets drive is still a device (a warm VM's, filled by its claim): relaunches and
        // restores must see the same devices. Definitions written before this flag: drive iff secrets.
        if (!secrets.isEmpty() || Boolean.TRUE.equals(secretsDrive)) {
            b.drive(new DriveSpec.Secrets(secrets));
        }
        if (configVersion != null) {
            Map<String, byte[]> files = new TreeMap<>();
            if (configFilesBase64 != null) {
                configFilesBase64.forEach((k, v) -> files.put(k, Base64.getDecoder().decode(v)));
            }
            b.drive(new DriveSpec.Config(configVersion, files));
        }
        return b.build();
    }
}
