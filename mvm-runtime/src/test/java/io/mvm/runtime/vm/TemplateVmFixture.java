package io.mvm.runtime.vm;

import java.io.IOException;
import java.nio.file.Path;

/**
 * {@link RuntimeFixture} for VM tests outside this package (template builds boot their revisions
 * with it): a real QEMU runtime over a private data dir, everything killed and removed on close.
 */
public final class TemplateVmFixture implements AutoCloseable {
    private final RuntimeFixture fixture;

    public TemplateVmFixture() throws IOException {
        fixture = new RuntimeFixture();
    }

    public Path dataDir() {
        return fixture.dataDir;
    }

    public LocalVms vms() {
        return fixture.vms;
    }

    @Override
    public void close() throws IOException {
        fixture.close();
    }
}
