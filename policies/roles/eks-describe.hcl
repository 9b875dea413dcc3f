# eks-describe: see an EKS cluster's control-plane configuration and reach its
# Kubernetes API (for example `aws eks update-kubeconfig`). What you may do
# inside the cluster is decided by the cluster's access entries / RBAC.
role "eks-describe" {
  description = "Describe the granted EKS clusters, their node groups and add-ons"

  # The grant's resources are cluster (and node group) ARNs, e.g.
  # arn:aws:eks:us-east-1:123456789012:cluster/prod-*
  # arn:aws:eks:us-east-1:123456789012:nodegroup/prod-*
  statement {
    actions = [
      "eks:DescribeCluster",
      "eks:ListNodegroups",
      "eks:DescribeNodegroup",
      "eks:ListAddons",
      "eks:DescribeAddon",
      "eks:ListFargateProfiles",
      "eks:AccessKubernetesApi",
    ]
    resources = []
  }

  # Listing clusters needs "*".
  statement {
    actions   = ["eks:ListClusters", "eks:DescribeAddonVersions"]
    resources = ["*"]
  }
}
