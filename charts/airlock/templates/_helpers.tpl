{{/* The chart's short name. */}}
{{- define "airlock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object this release owns; the release name alone when it already says airlock. */}}
{{- define "airlock.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "airlock.labels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: airlock
{{- if .Values.helmLabels }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods; never change them, Deployment selectors are immutable. */}}
{{- define "airlock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "airlock.operatorName" -}}
{{- printf "%s-operator" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airlock.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airlock.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "airlock.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The operator's rules on namespaced objects: in its ClusterRole, or in a Role per watched namespace. */}}
{{- define "airlock.operatorNamespacedRules" }}
  # The handlers follow every AIService and ReadinessPacket.
  - apiGroups: ["airlock.dev"]
    resources: ["aiservices", "readinesspackets"]
    verbs: ["get", "list", "watch"]
  # After a kill switch is released the operator removes the annotations it left behind (reason, who,
  # replicas, since), so a later kill is not reported with an old incident's reason. It patches nothing
  # else on an AIService: the spec belongs to people and GitOps.
  - apiGroups: ["airlock.dev"]
    resources: ["aiservices"]
    verbs: ["patch"]
  # The operator writes the status it computes.
  - apiGroups: ["airlock.dev"]
    resources: ["aiservices/status", "readinesspackets/status"]
    verbs: ["patch"]
  # Admission (airlock-status-writers) lets only holders of this virtual permission write that status,
  # so a wildcard role on airlock.dev cannot forge the cap it enforces.
  - apiGroups: ["governance.airlock.dev"]
    resources: ["aiservices/status", "readinesspackets/status"]
    verbs: ["update"]
  # Governed Deployments are read and watched; labels and annotations naming the versions are patched.
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get", "list", "watch", "patch"]
  # Replicas change only through the scale subresource: the backstop and the kill switch.
  - apiGroups: ["apps"]
    resources: ["deployments/scale"]
    verbs: ["get", "patch"]
  {{- if .Values.workloads.statefulSets }}
  # The same for StatefulSets (workloads.statefulSets).
  - apiGroups: ["apps"]
    resources: ["statefulsets"]
    verbs: ["get", "list", "watch", "patch"]
  - apiGroups: ["apps"]
    resources: ["statefulsets/scale"]
    verbs: ["get", "patch"]
  {{- end }}
  {{- if .Values.workloads.rollouts }}
  # The same for Argo Rollouts' Rollouts (workloads.rollouts; needs Argo Rollouts' CRD).
  - apiGroups: ["argoproj.io"]
    resources: ["rollouts"]
    verbs: ["get", "list", "watch", "patch"]
  - apiGroups: ["argoproj.io"]
    resources: ["rollouts/scale"]
    verbs: ["get", "patch"]
  {{- end }}
  {{- if .Values.autoscalers.horizontalPodAutoscalers }}
  # An HPA whose maxReplicas exceeds its workload's cap gets a Warning Event saying so
  # (autoscalers.horizontalPodAutoscalers). Read only: the operator never writes an HPA.
  - apiGroups: ["autoscaling"]
    resources: ["horizontalpodautoscalers"]
    verbs: ["get", "list", "watch"]
  {{- end }}
  {{- if .Values.autoscalers.scaledObjects }}
  # The kill switch pauses KEDA ScaledObjects that scale a governed workload, with KEDA's
  # autoscaling.keda.sh/paused-replicas annotation, and the restore unpauses what it paused
  # (autoscalers.scaledObjects; needs KEDA's CRDs); one above the cap gets a Warning Event like an HPA.
  - apiGroups: ["keda.sh"]
    resources: ["scaledobjects"]
    verbs: ["get", "list", "watch", "patch"]
  {{- end }}
  # Every transition is recorded as an Event (core/v1, and events.k8s.io/v1, the same objects).
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create"]
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create"]
{{- end }}

{{/* The kinds of workload the operator watches: Deployment always, the others as the values enable. */}}
{{- define "airlock.workloadKinds" -}}
{{- $kinds := list "Deployment" }}
{{- if .Values.workloads.statefulSets }}{{ $kinds = append $kinds "StatefulSet" }}{{ end }}
{{- if .Values.workloads.rollouts }}{{ $kinds = append $kinds "Rollout" }}{{ end }}
{{- join "," $kinds }}
{{- end }}
