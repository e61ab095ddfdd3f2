package io.mvm.runtime.vm;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.MemorySharing;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Templates, golden snapshots and clones on one host, over the same VM directories, locks and
 * journal as {@link LocalVms}: a clone is an ordinary VM afterwards (pause, sleep, stop, destroy
 * through {@link LocalVms}). Templates as a coordinator concept are built on these calls.
 */
public final class LocalClones {
    private final LocalVms vms;
    private final MemorySharing sharing;

    public LocalClones(LocalVms vms) {
        this.vms = vms;
        if (!(vms.backend() instanceof MemorySharing memorySharing)) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "the " + vms.backend().name()
                    + " backend cannot keep guest RAM in files, so it cannot save golden snapshots or clone VMs");
        }
        this.sharing = memorySharing;
    }

    /** Boots a VM whose RAM lives in a file in its directory, so that it can be saved as a golden snapshot. */
    public VmStatus runTemplate(VmSpec spec) {
        vms.backend().validate(spec);
        return vms.create(spec, (vm, validated) -> sharing.startTemplate(validated, vm.path(), vm));
    }

    /**
     * Drains the running template {@code name} and saves it as a golden snapshot in {@code dir}
     * (which must not exist); the template's VMM ends and the VM is left STOPPED.
     */
    public GoldenSnapshot saveTemplate(String name, Path dir, Duration drainDeadline) {
        Path target = dir.toAbsolutePath().normalize();
        return vms.locked(name, (vm, handle, spec) -> sharing.saveGolden(spec, handle, target, drainDeadline, vm));
    }

    /** Starts a new VM {@code spec} as a clone of the golden snapshot in {@code dir}. */
    public MemorySharing.ClonedVm runClone(VmSpec spec, Path dir) {
        GoldenSnapshot golden = GoldenSnapshot.open(dir.toAbsolutePath().normalize());
        vms.backend().validate(spec);
        MemorySharing.ClonedVm[] cloned = new MemorySharing.ClonedVm[1];
        vms.create(spec, (vm, validated) -> {
            cloned[0] = sharing.startClone(validated, golden, vm.path(), vm);
            return cloned[0].handle();
        });
        return cloned[0];
    }
}
