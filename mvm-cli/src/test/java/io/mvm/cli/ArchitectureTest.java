package io.mvm.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keeps the module dependencies pointing inward: model ← core ← {store, runtime} ← {agent,
 * coordinator} ← cli, with files (crash-safe writes) beside core: it knows only the model. Maven already forbids cycles between modules; these rules also forbid the
 * pure layers from reaching for I/O they should not know about.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.mvm");
    }

    @Test
    void modelDependsOnNothingElseInMvm() {
        noClasses().that().resideInAPackage("io.mvm.model..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.mvm.core..", "io.mvm.store..", "io.mvm.runtime..", "io.mvm.agent..",
                        "io.mvm.coordinator..", "io.mvm.cli..")
                .check(classes);
    }

    @Test
    void coreIsPureDomainLogic() {
        noClasses().that().resideInAPackage("io.mvm.core..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.mvm.store..", "io.mvm.runtime..", "io.mvm.agent..", "io.mvm.coordinator..",
                        "io.mvm.cli..", "java.sql..", "java.net.http..", "io.javalin..",
                        "com.fasterxml.jackson..")
                .check(classes);
    }

    @Test
    void coreAndModelNeitherTouchFilesNorStartProcessesNorOpenSockets() {
        noClasses().that().resideInAnyPackage("io.mvm.core..", "io.mvm.model..")
                .should().dependOnClassesThat().resideInAnyPackage("java.nio.file..", "java.nio.channels..", "java.net..")
                .orShould().dependOnClassesThat().belongToAnyOf(ProcessBuilder.class, Process.class, java.io.File.class,
                        java.io.FileInputStream.class, java.io.FileOutputStream.class)
                .check(classes);
    }

    @Test
    void fileHelpersKnowOnlyTheModel() {
        noClasses().that().resideInAPackage("io.mvm.files..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.mvm.core..", "io.mvm.store..", "io.mvm.runtime..", "io.mvm.agent..",
                        "io.mvm.coordinator..", "io.mvm.cli..")
                .check(classes);
    }

    @Test
    void storageKnowsNothingOfHostsHttpOrCli() {
        noClasses().that().resideInAPackage("io.mvm.store..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.mvm.runtime..", "io.mvm.agent..", "io.mvm.coordinator..", "io.mvm.cli..", "io.javalin..")
                .check(classes);
    }

    @Test
    void runtimeKnowsNothingOfStorageCoordinatorOrCli() {
        noClasses().that().resideInAPackage("io.mvm.runtime..")
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.mvm.store..", "io.mvm.agent..", "io.mvm.coordinator..", "io.mvm.cli..", "java.sql..")
                .check(classes);
    }

    @Test
    void agentAndCoordinatorStayApart() {
        noClasses().that().resideInAPackage("io.mvm.agent..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.coordinator..", "io.mvm.store..", "io.mvm.cli..")
                .check(classes);
        noClasses().that().resideInAPackage("io.mvm.coordinator..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.agent..", "io.mvm.runtime..", "io.mvm.cli..")
                .check(classes);
    }
}
