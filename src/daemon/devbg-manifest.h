/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * App manifests: which entry points an app declares, for which trigger
 * types, hosted by which executable. Read from trusted directories only.
 */
#pragma once

#include <glib.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

typedef struct {
  char  *name;       /* EntryPoint */
  char  *executable; /* absolute path of the task host */
  guint  triggers;   /* bit (1 << DevbgTriggerType) per declared type */
} DevbgEntryPoint;

/* A <DeviceCapability> family devbg knows (Windows' names). */
typedef enum {
  DEVBG_DECL_USB,                 /* Name="usb" */
  DEVBG_DECL_HID,                 /* Name="humaninterfacedevice" */
  DEVBG_DECL_BLUETOOTH_RFCOMM,    /* Name="bluetooth.rfcomm" */
  DEVBG_DECL_BLUETOOTH_GATT,      /* Name="bluetooth.genericAttributeProfile" */
  DEVBG_DECL_SERIAL,              /* Name="serialcommunication" */
} DevbgDeviceDeclKind;

/* One <Device> of a <DeviceCapability>: the devices the app may use. */
typedef struct {
  DevbgDeviceDeclKind kind;
  gboolean  any;      /* Id="any" */
  guint16   vid, pid; /* Id="vidpid:VVVV PPPP" */
  char     *hardware_id; /* Id="hwid:ID" (devbg's): a device listing exactly this ID */
  GStrv     functions; /* normalized: "classId:ff * *", "usage:ffaa 0001", "serviceId:<uuid>" */
} DevbgDeviceDecl;

typedef struct {
  gint       ref_count;
  char      *origin;     /* the file it came from */
  char      *app_id;
  /* <VisualElements DisplayName>: the name a prompt shows, a claim of the
   * app's (shown after its ID, which devbgd vouches for); may be NULL */
  char      *display_name;
  char      *executable; /* the app's own executable, may be NULL */
  char      *executable_real; /* its canonical path when it exists (for identity) */
  GStrv      helpers;    /* more executables of the app (<Executables>), may be NULL */
  GStrv      helpers_real; /* their canonical paths, those that exist */
  GPtrArray *entry_points; /* of DevbgEntryPoint */
  GPtrArray *devices;      /* of DevbgDeviceDecl: what the app may use */
  /* Why extensions and task types were ignored (another category, another
   * task type), for the person who wrote the manifest: at most
   * DEVBG_MANIFEST_MAX_IGNORED texts, likely typos first; n_ignored counts
   * them all. */
  GPtrArray *ignored;      /* of char * */
  guint      n_ignored;
  /* Shipped by a Flatpak app (devbg-flatpak.h): the deployment it came
   * from, its paths the sandbox's; NULL for a host manifest. */
  struct _DevbgFlatpakOrigin *flatpak;
  GDestroyNotify              flatpak_free;
} DevbgManifest;

DevbgManifest *devbg_manifest_parse (const char *data,
                                     gssize      length,
                                     const char *origin,
                                     GError    **error);
DevbgManifest *devbg_manifest_ref (DevbgManifest *manifest);
void           devbg_manifest_unref (DevbgManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgManifest, devbg_manifest_unref)

const DevbgEntryPoint *devbg_manifest_find_entry_point (const DevbgManifest *manifest,
                                                        const char          *name);

/* Does a <DeviceCapability> of @manifest cover a device with these
 * hardware IDs (devbg-device.h's: USB\\VID_xxxx&PID_yyyy, HID\\..., 
 * BTHENUM\\{uuid}..., BTHLEDevice\\{uuid}...)? Pure. */
gboolean devbg_manifest_declares_device (const DevbgManifest *manifest,
                                         DevbgProtocol        protocol,
                                         const char *const   *hardware_ids);

/* The declared entry point names, ", "-separated, for error messages: the
 * first 10 with their task types, then "and N more". */
char *devbg_manifest_list_entry_points (const DevbgManifest *manifest);

#define DEVBG_MANIFEST_MAX_IGNORED 8

/* What was ignored of @manifest's extensions and task types, "; "-
 * separated (at most DEVBG_MANIFEST_MAX_IGNORED, then "and N more"), or
 * NULL when nothing was. */
char *devbg_manifest_describe_ignored (const DevbgManifest *manifest);

/* For the "manifest ... loaded" log line: "2 entry points", and what was
 * ignored, "0 entry points; ignored: Task Type 'deviceuse' of ...". */
char *devbg_manifest_describe (const DevbgManifest *manifest);

/* Did a manifest of @apps (app ID -> DevbgManifest) name an executable
 * that did not exist when it was loaded, and is that executable @exe (a
 * canonical path, /proc/PID/exe's) now? Compares the path as written;
 * with @may_resolve, also resolves the missing paths (realpath) to find
 * one written through a symlink. Nothing is stat()ed without
 * @may_resolve, and only the manifests' own paths with it. A TRUE answer
 * calls for a reload of the manifests, which applies every rule of a load
 * (one executable, one app; no interpreter). */
gboolean devbg_manifests_executable_appeared (GHashTable *apps,
                                              const char *exe,
                                              gboolean    may_resolve);

/* Is @exe (a canonical path) one of @manifest's executables? */
gboolean devbg_manifest_owns_executable (const DevbgManifest *manifest,
                                         const char          *exe);

/* A valid app ID: reverse-DNS, two or more elements of [A-Za-z0-9_-],
 * none starting with a digit, at most 255 bytes (Flatpak's rules). */
gboolean devbg_app_id_is_valid (const char *app_id);

/* Pure: is @path a program that runs other programs (a shell, a script
 * interpreter, the dynamic loader, env, busybox)? /proc/PID/exe of every
 * script it runs is the interpreter, so it cannot tell one app from
 * another. Judged by the base name with any version suffix dropped
 * (python3.11 -> python) and by @shells (the lines of /etc/shells, may be
 * NULL). On TRUE, *@why (if not NULL) says which rule matched. */
gboolean devbg_executable_is_interpreter (const char        *path,
                                          const char *const *shells,
                                          char             **why);

/* Loads every *.xml manifest in @dirs (NULL-terminated). Returns app ID ->
 * DevbgManifest. Refused, each with a line appended to @problems naming
 * the file(s): a file that fails to parse (file and line); a manifest whose
 * Executable is an interpreter (judged against @shells_file, normally
 * /etc/shells, and the canonical path); and every manifest of a conflict:
 * two or more declaring the same app ID, or the same Executable (by
 * canonical path). In a conflict none is loaded, so that identity never
 * depends on which file was read first. */
GHashTable *devbg_manifests_load_full (const char *const *dirs,
                                       const char        *shells_file,
                                       GPtrArray          *problems);
/* The same, with /etc/shells. */
GHashTable *devbg_manifests_load (const char *const *dirs,
                                  GPtrArray          *problems);

G_END_DECLS
