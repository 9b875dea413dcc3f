# eks-describe: see an EKS cluster's control-plane configuration and reach its
# Kubernetes API (for example `aws eks update-kubeconfig`). What you may do
# inside the cluster is decided by the cluster's access entries / RBAC.
#
# Every action below takes the resource type it is granted on (AWS Service
# Authorization Reference, Amazon EKS): the cluster actions take `cluster`
# ARNs, the account-wide list calls take "*". Describing one node group or
# add-on (eks:DescribeNodegroup, eks:DescribeAddon) needs `nodegroup/...` or
# `addon/...` ARNs, which a cluster pattern never matches: write a role with
# those ARNs as its resources if you need them.
role "eks-describe" {
  description = "Describe the granted EKS clusters and list their node groups, add-ons and Fargate profiles"

  # The grant's resources are cluster ARNs, e.g.
  # arn:aws:eks:us-east-1:123456789012:cluster/prod-*
  statement {
    actions = [
      "eks:DescribeCluster",
      "eks:ListNodegroups",
      "eks:ListAddons",
      "eks:ListFargateProfiles",
      "eks:AccessKubernetesApi",
    ]
    resources = []
  }

  # Listing clusters and add-on versions takes no resource: "*".
  statement {
    actions   = ["eks:ListClusters", "eks:DescribeAddonVersions"]
    resources = ["*"]
  }
}
