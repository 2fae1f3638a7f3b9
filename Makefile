# xcopyd — top-level build.  Plain make + pkg-config; see README.md.
#
#   make                 build everything into $(BUILD)/
#   make check           install missing dependencies (as root), build, run all tests
#   make demo            the main job on a built-in default
#   make bench           benchmarks, printed as ratios against their peers
#   make install         PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined check     the suite under ASan/UBSan
#   make WERROR=1        warnings are errors (the default when CI=true)

CC          ?= cc
PKG_CONFIG  ?= pkg-config
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
DESTDIR     ?=
SANITIZE    ?=

ifeq ($(SANITIZE),)
BUILD       ?= build
else
BUILD       ?= build-san
endif

ifeq ($(CI),true)
WERROR      ?= 1
endif

NBDKIT_PLUGINDIR := $(shell $(PKG_CONFIG) --variable=plugindir nbdkit 2>/dev/null)
NBDKIT_CFLAGS    := $(shell $(PKG_CONFIG) --cflags nbdkit 2>/dev/null)
GLIB_CFLAGS      := $(shell $(PKG_CONFIG) --cflags glib-2.0 gio-unix-2.0 json-glib-1.0 2>/dev/null)
GLIB_LIBS        := $(shell $(PKG_CONFIG) --libs glib-2.0 gio-unix-2.0 json-glib-1.0 2>/dev/null)
ISAL_LIBS        := $(shell $(PKG_CONFIG) --libs libisal 2>/dev/null)
NBD_CFLAGS       := $(shell $(PKG_CONFIG) --cflags libnbd 2>/dev/null)
NBD_LIBS         := $(shell $(PKG_CONFIG) --libs libnbd 2>/dev/null)
LIBISCSI_CFLAGS  := $(shell $(PKG_CONFIG) --cflags libiscsi 2>/dev/null)
LIBISCSI_LIBS    := $(shell $(PKG_CONFIG) --libs libiscsi 2>/dev/null)

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral
CFLAGS  ?= -O2 -g
XCFLAGS  = -std=gnu11 $(WARN) -fPIC -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
           -Iinclude -Icommon -MMD -MP
ifneq ($(WERROR),)
XCFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
XCFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN    = -fsanitize=$(SANITIZE)
endif
LDLIBS  += -lpthread

COMMON_SRC  := $(wildcard common/*.c proto/*.c)
COMMON_OBJ  := $(COMMON_SRC:%.c=$(BUILD)/%.o)
SCSI_SRC    := $(wildcard daemon/scsi/*.c)
SCSI_OBJ    := $(SCSI_SRC:%.c=$(BUILD)/%.o)
PLUGIN_SRC  := $(wildcard plugin/*.c)
PLUGIN_OBJ  := $(PLUGIN_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC    := $(wildcard tools/*.c)
TOOLS       := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)
UNIT_SRC    := $(wildcard tests/unit/test-*.c)
UNIT_TESTS  := $(UNIT_SRC:%.c=$(BUILD)/%)
UNIT_PSRC   := $(wildcard tests/unit/prog-*.c)
UNIT_PROGS  := $(UNIT_PSRC:%.c=$(BUILD)/%)
UNIT_HELPER := $(filter-out $(UNIT_SRC) $(UNIT_PSRC),$(wildcard tests/unit/*.c))
UNIT_HOBJ   := $(UNIT_HELPER:%.c=$(BUILD)/%.o)
BENCH_SRC   := $(wildcard bench/*.c)
BENCHES     := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# The iSCSI transport (glib, ISA-L) and the daemon that wires it to the
# plugin (daemon/*.c: glib, libnbd).
ISCSI_SRC   := $(wildcard daemon/iscsi/*.c)
ISCSI_OBJ   := $(ISCSI_SRC:%.c=$(BUILD)/%.o)
LIBISCSIT   := $(if $(ISCSI_SRC),$(BUILD)/libxcopyiscsi.a)
DAEMON_SRC  := $(wildcard daemon/*.c)
DAEMON_OBJ  := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
XCOPYD      := $(if $(DAEMON_SRC),$(BUILD)/xcopyd)
# Daemon-side libraries for unit tests and helper programs.
DAEMON_LIBS  = $(LIBISCSIT) $(LIBSCSI) $(LIBXCOPY) $(GLIB_LIBS) $(ISAL_LIBS) $(NBD_LIBS)

CTL_SRC     := $(wildcard daemon/xcopyctl/*.c)
CTL_OBJ     := $(CTL_SRC:%.c=$(BUILD)/%.o)
XCOPYCTL    := $(if $(CTL_SRC),$(BUILD)/xcopyctl)
LIBXCOPY    := $(BUILD)/libxcopy.a
LIBSCSI     := $(if $(SCSI_SRC),$(BUILD)/libxcopyscsi.a)
PLUGIN_SO   := $(BUILD)/nbdkit-xcopy-plugin.so
PLUGIN_POD  := $(wildcard plugin/*.pod)
DOCS_POD    := $(wildcard docs/*.pod)
MAN_PAGES   := $(PLUGIN_POD:plugin/%.pod=$(BUILD)/%.1) $(DOCS_POD:docs/%.pod=$(BUILD)/%.1)

# Objects depend on the flags they were built with, so WERROR=1 or a new
# SANITIZE value rebuilds everything instead of trusting stale objects.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW   := $(CC) $(CFLAGS) $(XCFLAGS) $(LDSAN)
$(shell mkdir -p $(BUILD) && \
  (echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || \
   echo '$(FLAGS_NOW)' > $(FLAGS_STAMP)))

.PHONY: all check demo bench install deps clean unit-tests
.DEFAULT_GOAL := all

all: $(LIBXCOPY) $(LIBSCSI) $(LIBISCSIT) $(XCOPYD) $(XCOPYCTL) $(if $(PLUGIN_OBJ),$(PLUGIN_SO)) $(MAN_PAGES) $(TOOLS) $(UNIT_TESTS) $(UNIT_PROGS) $(BENCHES)

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(NBDKIT_CFLAGS) -c -o $@ $<

# The daemon side builds against glib; common/ and proto/ never do.
$(BUILD)/daemon/xcopyctl/%.o: daemon/xcopyctl/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(GLIB_CFLAGS) -c -o $@ $<

# daemon/scsi/ is plain C (unit-tested and fuzzed alone): no glib.
$(BUILD)/daemon/scsi/%.o: daemon/scsi/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(BUILD)/daemon/iscsi/%.o: daemon/iscsi/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(GLIB_CFLAGS) -c -o $@ $<

$(BUILD)/daemon/%.o: daemon/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) $(GLIB_CFLAGS) $(NBD_CFLAGS) -c -o $@ $<

$(BUILD)/libxcopyiscsi.a: $(ISCSI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/xcopyd: $(DAEMON_OBJ) $(LIBISCSIT) $(LIBSCSI) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(GLIB_LIBS) $(ISAL_LIBS) $(NBD_LIBS) $(LDLIBS)

$(BUILD)/xcopyctl: $(CTL_OBJ) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(GLIB_LIBS) $(LDLIBS)

$(LIBXCOPY): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libxcopyscsi.a: $(SCSI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(PLUGIN_SO): $(PLUGIN_OBJ) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -shared -o $@ $(PLUGIN_OBJ) $(LIBXCOPY) $(LDLIBS)

$(BUILD)/%.1: plugin/%.pod
	@mkdir -p $(dir $@)
	pod2man --section=1 --center="xcopyd" --release="xcopyd" --name=$* $< > $@

$(BUILD)/%.1: docs/%.pod
	@mkdir -p $(dir $@)
	pod2man --section=1 --center="xcopyd" --release="xcopyd" --name=$* $< > $@

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test-%: $(BUILD)/tests/unit/test-%.o $(UNIT_HOBJ) $(LIBSCSI) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(LDLIBS)

# Tests and programs of the iSCSI transport and the daemon: glib and friends.
$(BUILD)/tests/unit/test-iscsi-%.o $(BUILD)/tests/unit/prog-iscsi-%.o \
$(BUILD)/tests/unit/test-xcopyd-%.o $(BUILD)/tests/unit/prog-xcopyd-%.o: \
  XCFLAGS += $(GLIB_CFLAGS) $(NBD_CFLAGS)
$(BUILD)/tests/unit/test-iscsi-%: $(BUILD)/tests/unit/test-iscsi-%.o $(UNIT_HOBJ) $(LIBISCSIT) $(LIBSCSI) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $(filter %.o,$^) $(DAEMON_LIBS) $(LDLIBS)
$(BUILD)/tests/unit/prog-iscsi-%: $(BUILD)/tests/unit/prog-iscsi-%.o $(UNIT_HOBJ) $(LIBISCSIT) $(LIBSCSI) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $(filter %.o,$^) $(DAEMON_LIBS) $(LDLIBS)

# Programs that scenarios in tests/func/ run with set-up (a mounted XFS...).
$(BUILD)/tests/unit/prog-%: $(BUILD)/tests/unit/prog-%.o $(UNIT_HOBJ) $(LIBSCSI) $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBXCOPY)
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(LDLIBS)

# Load clients that speak iSCSI through libiscsi (the initiator side).
$(BUILD)/bench/iscsi-%.o: XCFLAGS += $(LIBISCSI_CFLAGS)
$(BUILD)/bench/iscsi-%: $(BUILD)/bench/iscsi-%.o
	$(CC) $(CFLAGS) $(LDSAN) -o $@ $^ $(LIBISCSI_LIBS) $(LDLIBS)

deps:
	@scripts/install-deps.sh --ensure

check: deps
	$(MAKE) all
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

demo: deps
	$(MAKE) all
	BUILD=$(BUILD) scripts/demo.sh

bench: deps
	$(MAKE) all
	BUILD=$(BUILD) bench/run

install: all
	install -d $(DESTDIR)$(NBDKIT_PLUGINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(PLUGIN_SO) $(DESTDIR)$(NBDKIT_PLUGINDIR)/
	$(if $(XCOPYD),install -m 0755 $(XCOPYD) $(DESTDIR)$(BINDIR)/)
	$(if $(XCOPYD),install -D -m 0644 etc/xcopyd.conf.example $(DESTDIR)$(SYSCONFDIR)/xcopyd/xcopyd.conf.example)
	$(if $(XCOPYD),install -d $(DESTDIR)$(UNITDIR) && sed -e 's|@BINDIR@|$(BINDIR)|' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|' etc/xcopyd.service.in >$(DESTDIR)$(UNITDIR)/xcopyd.service)
	for m in $(MAN_PAGES); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for t in $(TOOLS) $(XCOPYCTL); do install -m 0755 $$t $(DESTDIR)$(BINDIR)/; done

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
