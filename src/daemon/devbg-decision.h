/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The request decision: every row of the seed's "Task initiation policies"
 * table, and its consent section, as one pure function of plain facts. No
 * I/O and no clock: devbg-runtime.c gathers the facts (from the manifest,
 * the device backend, device metadata, logind, UPower or sysfs, polkit and
 * its own state) and acts on the verdict, so every row is tested alone
 * with plain data (tests/unit/test-decision.c).
 *
 * The order of the checks, and why (the first failing row names the
 * reason, so the order decides what the app and the user are told):
 *
 *  1. entry point declared for the trigger, device attached, protocol
 *     allowed for the trigger, device declared in the manifest: facts
 *     about the request itself that no retry changes; the app's own bug
 *     or packaging, reported before anything about the user or machine.
 *  2. servicing: expected duration under the limit, device metadata
 *     present, app privileged for the device: also fixed for this request.
 *  3. device accessible to the caller's user: a matter of the user's
 *     rights, fixed while the user is who they are.
 *  4. app in the foreground, then the session unlocked: the user can act
 *     on these (bring the app forward, unlock).
 *  5. another device task of the app running, pending events over the
 *     cap, device busy with another task: transient state of devbgd.
 *  6. servicing: battery above the minimum or AC (LowBattery, its own
 *     result, so the app can tell the user to plug in).
 *  7. consent, last: a person is never asked about a request that would be
 *     refused anyway, and an answer is never wasted on one. Use consent is
 *     needed unless stored for (user, app, device model); servicing
 *     consent is asked every time.
 *
 * The verdict can be "ask consent": every other row passes and the answer
 * is not known yet. The runtime then asks through devbg-consent.h, gathers
 * the facts again (they may have changed while the person thought) and
 * decides again with the answer.
 */
#pragma once

#include <glib.h>

#include "devbg-config.h"
#include "devbg-enums.h"

G_BEGIN_DECLS

typedef enum {
  DEVBG_CONSENT_NOT_ASKED = 0,
  DEVBG_CONSENT_GIVEN,
  DEVBG_CONSENT_REFUSED,     /* by the person, no answer in time, HeadlessConsent=deny */
  DEVBG_CONSENT_UNAVAILABLE, /* devbgd could not ask or store */
} DevbgConsentAnswer;

/* The power supply as far as it is known. */
typedef struct {
  gboolean has_battery;   /* a system battery exists (or its presence is unknown) */
  gboolean level_known;   /* percent is meaningful */
  double   percent;       /* 0..100 */
  gboolean on_ac;         /* on mains power */
} DevbgPowerFacts;

typedef struct {
  DevbgTriggerType trigger;
  gboolean         entry_point_declared; /* for this trigger, in the manifest today */
  gboolean         device_attached;
  DevbgProtocol    protocol;
  gboolean         device_declared;      /* a DeviceCapability of the manifest covers it */
  guint            expected_duration_s;  /* servicing; 0: unknown */
  gboolean         has_metadata;         /* device metadata matches the device */
  gboolean         privileged;           /* and lists the app (or AnyApplication) */
  gboolean         device_accessible;    /* the user may open it, or polkit grants it */
  gboolean         in_session;           /* the caller's logind session exists */
  gboolean         session_active;       /* active on its seat */
  gboolean         session_locked;       /* LockedHint */
  gboolean         app_task_running;     /* another device task of (uid, app) */
  gboolean         app_consent_waiting;  /* another request of (uid, app) awaits its user's answer */
  gboolean         too_many_pending;     /* MaxPendingEvents reached for (uid, app) */
  gboolean         device_busy;          /* another task holds the device */
  DevbgPowerFacts  power;
  gboolean         consent_stored;       /* use: stored for (uid, app, model) */
  DevbgConsentAnswer consent;
} DevbgDecisionFacts;

typedef enum {
  DEVBG_DECISION_ALLOW,
  DEVBG_DECISION_DENY,
  DEVBG_DECISION_ASK_CONSENT,
} DevbgDecisionKind;

typedef struct {
  DevbgDecisionKind  kind;
  DevbgTriggerResult result; /* ALLOWED for ALLOW and ASK_CONSENT */
  DevbgRequestReason reason; /* DEVBG_REASON_ALLOWED unless DENY */
} DevbgDecision;

DevbgDecision devbg_decide (const DevbgConfig        *config,
                            const DevbgDecisionFacts *facts);

/* A sentence saying why @decision was made, for the logs and developers. */
char         *devbg_decision_explain (const DevbgConfig        *config,
                                      const DevbgDecisionFacts *facts,
                                      DevbgDecision             decision);

/* Servicing needs the battery above MinBatteryPercent or AC. A machine
 * with no system battery is on mains; a battery whose level is unknown is
 * not above anything. */
gboolean      devbg_decision_power_ok (const DevbgConfig     *config,
                                       const DevbgPowerFacts *power);

G_END_DECLS
