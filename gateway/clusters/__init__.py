"""GPU cluster job APIs (Slurm REST, Kubernetes batch/v1 Jobs) behind the gateway's identity, KYC,
policy and quotas.

- :mod:`.adapter`: the seam, :class:`~.adapter.ClusterAdapter`, one per kind of cluster API
  (:mod:`.slurm`, :mod:`.kubernetes`; chosen in :mod:`.registry`); adapters never import each other.
- :mod:`.proxy`: ``/clusters/<name>/...``, handed to the cluster's adapter; :mod:`.admission`:
  a job bounded, placed, reserved and recorded before the cluster sees it.
- :mod:`.follower`: every job followed to its end and settled (:mod:`.settlement`: the quota
  reservations and the ledger's compute event); :mod:`.reconcile`: submissions whose answer was lost.
- :mod:`.workload`: what a job asks for; :mod:`.repository` and :mod:`.identities`: its records.
"""
